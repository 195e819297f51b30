/* natterd-media.c — media upload and download for images, voice and files
 *
 *   POST /media/upload[?name=NAME]   body: the file, Content-Type kept
 *   GET  /media/<appKey>/<id>        Range supported
 *
 * Both authenticate with the user's token (Authorization: Bearer TOKEN, or
 * ?token=TOKEN for players that cannot set headers). Every upload gets its
 * own id, 128 random bits: an id says nothing about the content, so nobody
 * can find someone else's upload of a file they also have (ids were the
 * SHA-256 of the content before; those URLs keep working). Files live under
 * DATA_DIR/media/<app id>/<id[0:2]>/<id>.
 *
 * The main loop never touches the disk: an upload's chunks go to its file
 * through GIO's asynchronous writes (a worker thread for local files), in
 * order, one at a time; past UPLOAD_BUFFER bytes waiting, the request is
 * not read further until they are written (TCP back-pressure). The file is
 * fsynced, renamed and its directory fsynced on a worker thread, its row
 * committed by the store's writer, and then the upload is answered
 * {"code":200,"url":...}. Downloads are read in DOWNLOAD_CHUNK pieces by
 * asynchronous reads, the next one once the previous went to the socket.
 *
 * Quotas: [media] user-quota and app-quota bound the bytes a user and all
 * users of an app have uploaded (uploads on their way included); beyond,
 * HTTP 507 with code 30017. Downloads are served as attachments (images and
 * audio inline), with nosniff and a sandboxing CSP, so an upload is never
 * a page of natterd's origin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-crypto.h"
#include "natterd-log.h"
#include "natterd-parse-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gfiledescriptorbased.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define MEDIA_NAME_MAX 255
#define CONTENT_TYPE_MAX 127
#define MEDIA_ID_BYTES 16
/* Bytes of an upload received but not yet written before its request is
 * read no further. */
#define UPLOAD_BUFFER (1024 * 1024)
#define DOWNLOAD_CHUNK (256 * 1024)

/* ------------------------------------------------------------------ common */

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

/* Writes refused: out of space (507), or the store (PostgreSQL)
 * unreachable for now (503: another try shortly may work). */
static void
reply_store_refusal (SoupServerMessage *msg,
                     gboolean           unreachable)
{
  if (unreachable)
    reply_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NATTER_CODE_SERVER_ERROR,
                 "The store is unreachable; try again shortly");
  else
    reply_error (msg, SOUP_STATUS_INSUFFICIENT_STORAGE, NATTER_CODE_SERVER_ERROR, "The server is out of disk space");
}

/* The user a media request is made for, or NULL after replying 401. */
static NatterdUser *
authenticate (NatterdServer     *self,
              SoupServerMessage *msg)
{
  NatterdUser *user = NULL;
  /* Only from the header: a token in a URL ends up in proxies' and
   * players' logs, and in whatever the URL is handed to. */
  int code = natterd_token_check_any (self->directory, natterd_bearer_token (msg), natterd_now_ms (), &user);

  if (code != NATTER_CODE_OK)
    {
      reply_error (msg, SOUP_STATUS_UNAUTHORIZED, code, NULL);
      return NULL;
    }
  return user;
}

/* A media request waiting for its token's user, read from the store when
 * another node made it (natterd_server_with_token_user()); the message is
 * paused meanwhile. */
typedef struct
{
  NatterdServer     *server;
  SoupServerMessage *msg;
  char              *app_key;           /* download: of the URL */
  char              *hash;              /* download: the media id */
  char              *name;              /* upload: ?name=, or NULL */
  gulong             finished_id;
  gboolean           finished;          /* the client went meanwhile */
} MediaAuth;

static void
media_auth_finished (SoupServerMessage *msg,
                     gpointer           user_data)
{
  ((MediaAuth *) user_data)->finished = TRUE;
}

static void
media_auth_free (gpointer data)
{
  MediaAuth *auth = data;

  g_signal_handler_disconnect (auth->msg, auth->finished_id);
  g_object_unref (auth->msg);
  g_object_unref (auth->server);
  g_free (auth->app_key);
  g_free (auth->hash);
  g_free (auth->name);
  g_free (auth);
}

/* Pauses @msg and runs @then once the token's user is known here (a user
 * another node made is read first, as for Connect and /account/: its
 * token may come before NATS told us of it). @auth is taken. */
static void
media_with_token_user (NatterdServer     *self,
                       SoupServerMessage *msg,
                       MediaAuth         *auth,
                       NatterdThenFunc    then)
{
  auth->server = g_object_ref (self);
  auth->msg = g_object_ref (msg);
  auth->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (media_auth_finished), auth);
  soup_server_message_pause (msg);
  natterd_server_with_token_user (self, natterd_bearer_token (msg), then, auth, media_auth_free);
}

/* [media] dir, shared by the nodes of a cluster; else under the data dir. */
static char *
media_root_path (NatterdServer *self)
{
  if (self->config->media_dir != NULL)
    return g_strdup (self->config->media_dir);
  return g_build_filename (self->data_dir, "media", NULL);
}

static char *
media_path (NatterdServer *self,
            gint64         app_id,
            const char    *id)
{
  g_autofree char *root = media_root_path (self);
  g_autofree char *app = g_strdup_printf ("%" G_GINT64_FORMAT, app_id);
  char prefix[3] = { id[0], id[1], '\0' };

  return g_build_filename (root, app, prefix, id, NULL);
}

/* ------------------------------------------------------------------ quotas */

static gboolean quotas_apply (NatterdServer *self);

static guint64 *
user_usage (NatterdApp *app,
            gint64      uploader_id)
{
  guint64 *bytes = g_hash_table_lookup (app->media_usage, &uploader_id);

  if (bytes == NULL)
    {
      gint64 *key = g_memdup2 (&uploader_id, sizeof uploader_id);

      bytes = g_new0 (guint64, 1);
      g_hash_table_insert (app->media_usage, key, bytes);
    }
  return bytes;
}

/* Whether @more bytes by @uploader_id fit both quotas. */
static gboolean
quota_allows (NatterdServer *self,
              NatterdApp    *app,
              gint64         uploader_id,
              guint64        more)
{
  NatterdConfig *config = self->config;

  if (app->media_usage == NULL)
    return TRUE;  /* not read yet: checked again before the upload is kept */
  if (config->media_user_quota > 0 && *user_usage (app, uploader_id) + more > config->media_user_quota)
    return FALSE;
  if (config->media_app_quota > 0 && app->media_bytes + more > config->media_app_quota)
    return FALSE;
  return TRUE;
}

static void
quota_add (NatterdApp *app,
           gint64      uploader_id,
           gint64      bytes)
{
  guint64 *used;

  if (app->media_usage == NULL)
    return;
  used = user_usage (app, uploader_id);
  *used = (guint64) ((gint64) *used + bytes);
  app->media_bytes = (guint64) ((gint64) app->media_bytes + bytes);
}

static gboolean
quotas_apply (NatterdServer *self)
{
  return self->config->media_user_quota > 0 || self->config->media_app_quota > 0;
}

/* ------------------------------------------------------------------ upload */

typedef struct
{
  gatomicrefcount    ref_count;
  NatterdServer     *server;
  SoupServerMessage *msg;         /* not a ref: the message holds the upload */
  gint64             app_id;
  char              *app_key;
  gint64             uploader_id;
  char              *content_type;
  char              *name;
  char              *id;
  char              *tmp_path;
  char              *final_path;
  GFileOutputStream *stream;      /* NULL until the file is created */
  GQueue             chunks;      /* GBytes received, not written yet */
  gsize              queued;      /* their bytes */
  gboolean           busy;        /* creating the file or writing a chunk */
  gboolean           read_paused; /* the request waits for the chunks to be written */
  gboolean           body_done;   /* the request is read: on_upload came */
  gboolean           finishing;   /* made durable and stored from here on */
  gboolean           finished;    /* the message is gone (answered or the client left) */
  gboolean           kept;        /* renamed to its final path */
  gboolean           reserved;    /* counted in the quotas */
  gboolean           unmetered;   /* the usage could not be read: let through */
  GChecksum         *checksum;
  guint64            size;
  guint              status;      /* non-zero: refused while reading */
  int                code;
  const char        *reason;
  GCancellable      *cancellable;
} Upload;

static Upload *
upload_ref (Upload *upload)
{
  g_atomic_ref_count_inc (&upload->ref_count);
  return upload;
}

/* Worker thread: close and remove what an upload leaves behind. */
static void
discard_file (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  Upload *upload = task_data;

  if (upload->stream != NULL)
    g_output_stream_close (G_OUTPUT_STREAM (upload->stream), NULL, NULL);
  if (upload->tmp_path != NULL && !upload->kept)
    g_unlink (upload->tmp_path);
  g_task_return_boolean (task, TRUE);
}

static void
upload_destroy (gpointer data)
{
  Upload *upload = data;

  g_clear_object (&upload->stream);
  g_queue_clear_full (&upload->chunks, (GDestroyNotify) g_bytes_unref);
  g_free (upload->tmp_path);
  g_free (upload->app_key);
  g_free (upload->content_type);
  g_free (upload->name);
  g_free (upload->id);
  g_free (upload->final_path);
  g_clear_pointer (&upload->checksum, g_checksum_free);
  g_clear_object (&upload->cancellable);
  g_object_unref (upload->server);
  g_free (upload);
}

static void
upload_unref (gpointer data)
{
  Upload *upload = data;
  g_autoptr(GTask) task = NULL;

  if (!g_atomic_ref_count_dec (&upload->ref_count))
    return;

  if (upload->reserved)
    {
      NatterdApp *app = natterd_directory_lookup_app_id (upload->server->directory, upload->app_id);

      if (app != NULL && !upload->kept)
        quota_add (app, upload->uploader_id, -(gint64) upload->size);
    }
  if (upload->stream == NULL && (upload->tmp_path == NULL || upload->kept))
    {
      upload_destroy (upload);
      return;
    }
  /* Closing and unlinking are disk I/O too. */
  task = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_task_data (task, upload, upload_destroy);
  g_task_run_in_thread (task, discard_file);
}

static void
upload_message_finished (SoupServerMessage *msg,
                         gpointer           user_data)
{
  Upload *upload = user_data;

  upload->finished = TRUE;
  g_cancellable_cancel (upload->cancellable);
}

static void
upload_reply_error (Upload     *upload,
                    guint       status,
                    int         code,
                    const char *reason)
{
  if (upload->finished)
    return;
  reply_error (upload->msg, status, code, reason);
  soup_server_message_unpause (upload->msg);
}

/* Refused while the body is still coming: what comes is dropped, the reply
 * goes once it all came (libsoup reads it anyway). */
static void
upload_refuse (Upload     *upload,
               guint       status,
               int         code,
               const char *reason)
{
  if (upload->status != 0)
    return;
  upload->status = status;
  upload->code = code;
  upload->reason = reason;
  g_queue_clear_full (&upload->chunks, (GDestroyNotify) g_bytes_unref);
  upload->queued = 0;
  if (upload->read_paused && !upload->finished)
    {
      upload->read_paused = FALSE;
      soup_server_message_unpause (upload->msg);
    }
}

static void write_next (Upload *upload);
static void maybe_finish (Upload *upload);

static void
chunk_written (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Upload *upload = user_data;
  g_autoptr(GError) error = NULL;
  GBytes *chunk;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  upload->busy = FALSE;
  chunk = g_queue_pop_head (&upload->chunks);
  if (chunk != NULL)
    {
      upload->queued -= g_bytes_get_size (chunk);
      g_bytes_unref (chunk);
    }

  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      natterd_log (G_LOG_LEVEL_WARNING, "media-write-failed", "error", error->message, NULL);
      upload_refuse (upload, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
    }
  else if (upload->read_paused && upload->queued <= UPLOAD_BUFFER / 4 && !upload->finished)
    {
      upload->read_paused = FALSE;
      soup_server_message_unpause (upload->msg);
    }

  write_next (upload);
  maybe_finish (upload);
  upload_unref (upload);
}

/* One write at a time, in order; the chunk stays queued until written. */
static void
write_next (Upload *upload)
{
  GBytes *chunk;

  if (upload->busy || upload->stream == NULL || upload->status != 0 || upload->finished)
    return;
  chunk = g_queue_peek_head (&upload->chunks);
  if (chunk == NULL)
    return;

  upload->busy = TRUE;
  g_output_stream_write_all_async (G_OUTPUT_STREAM (upload->stream), g_bytes_get_data (chunk, NULL),
                                   g_bytes_get_size (chunk), G_PRIORITY_DEFAULT, upload->cancellable,
                                   chunk_written, upload_ref (upload));
}

/* Worker thread: the tmp dir (again: it may have been removed) and the
 * file, which only this process can read. */
static void
create_file (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  const char *path = task_data;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  GError *error = NULL;
  GFileOutputStream *stream;

  g_mkdir_with_parents (dir, 0700);
  stream = g_file_create (file, G_FILE_CREATE_PRIVATE, cancellable, &error);
  if (stream == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, stream, g_object_unref);
}

static void
file_created (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Upload *upload = user_data;
  g_autoptr(GError) error = NULL;

  upload->busy = FALSE;
  upload->stream = g_task_propagate_pointer (G_TASK (result), &error);
  if (upload->stream == NULL)
    {
      g_clear_pointer (&upload->tmp_path, g_free);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          natterd_log (G_LOG_LEVEL_WARNING, "media-write-failed", "error", error->message, NULL);
          upload_refuse (upload, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
        }
    }
  write_next (upload);
  maybe_finish (upload);
  upload_unref (upload);
}

static void
on_chunk (SoupServerMessage *msg,
          GBytes            *chunk,
          gpointer           user_data)
{
  Upload *upload = user_data;
  NatterdServer *server = upload->server;
  NatterdApp *app;
  gsize length = g_bytes_get_size (chunk);

  if (upload->status != 0)
    return;

  upload->size += length;
  if (upload->size > server->config->media_max_size)
    {
      upload_refuse (upload, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NATTER_CODE_MESSAGE_TOO_LARGE, NULL);
      return;
    }
  app = natterd_directory_lookup_app_id (server->directory, upload->app_id);
  if (app != NULL && quotas_apply (server) && !quota_allows (server, app, upload->uploader_id, upload->size))
    {
      upload_refuse (upload, SOUP_STATUS_INSUFFICIENT_STORAGE, NATTER_CODE_MEDIA_QUOTA_EXCEEDED,
                     "The media quota is used up");
      return;
    }

  g_checksum_update (upload->checksum, g_bytes_get_data (chunk, NULL), length);
  g_queue_push_tail (&upload->chunks, g_bytes_ref (chunk));
  upload->queued += length;
  write_next (upload);
  if (upload->queued > UPLOAD_BUFFER && !upload->read_paused)
    {
      upload->read_paused = TRUE;
      soup_server_message_pause (msg);
    }
}

static void
upload_usage_read (NatterdRead *base,
                   gpointer     user_data)
{
  NatterdMediaUsageRead *read = (NatterdMediaUsageRead *) base;
  NatterdServer *self = user_data;
  NatterdApp *app = natterd_directory_lookup_app_id (self->directory, read->app_id);
  g_autoptr(GPtrArray) waiters = NULL;

  if (app == NULL)
    return;
  waiters = g_steal_pointer (&app->media_usage_waiters);
  if (base->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "media-usage-failed", "error", base->error->message, NULL);
  else if (app->media_usage == NULL)
    {
      app->media_usage = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
      for (guint i = 0; i < read->usage->len; i++)
        {
          NatterdMediaUsage *usage = &g_array_index (read->usage, NatterdMediaUsage, i);

          quota_add (app, usage->uploader_id, (gint64) usage->bytes);
        }
    }
  /* A failed read is tried again by the next upload; these go through. */
  for (guint i = 0; waiters != NULL && i < waiters->len; i++)
    {
      Upload *upload = g_ptr_array_index (waiters, i);

      upload->unmetered = base->error != NULL;
      maybe_finish (upload);
    }
}

/* Reads what the app's users uploaded, once (then the quotas are kept up
 * to date here); @upload waits for it. */
static gboolean
wait_for_usage (Upload     *upload,
                NatterdApp *app)
{
  NatterdMediaUsageRead *read;

  if (app->media_usage != NULL || !quotas_apply (upload->server) || upload->unmetered)
    return FALSE;
  if (app->media_usage_waiters == NULL)
    {
      app->media_usage_waiters = g_ptr_array_new_with_free_func (upload_unref);
      read = natterd_read_new (NATTERD_READ_MEDIA_USAGE, upload_usage_read,
                               g_object_ref (upload->server), g_object_unref);
      read->app_id = app->id;
      natterd_store_read (upload->server->store, read);
    }
  g_ptr_array_add (app->media_usage_waiters, upload_ref (upload));
  return TRUE;
}

static void
upload_stored (NatterdOp *op,
               gpointer   user_data)
{
  Upload *upload = user_data;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *url = NULL;

  if (op->error != NULL)
    {
      NatterdApp *app = natterd_directory_lookup_app_id (upload->server->directory, upload->app_id);

      /* Nobody can be given its URL: the file goes (on a thread, when the
       * last reference does), and counts no more. */
      if (app != NULL)
        quota_add (app, upload->uploader_id, -(gint64) upload->size);
      upload->reserved = FALSE;
      g_free (upload->tmp_path);
      upload->tmp_path = g_strdup (upload->final_path);
      upload->kept = FALSE;
      if (natterd_store_error_is_full (op->error) && !upload->finished)
        {
          reply_store_refusal (upload->msg, g_error_matches (op->error, NATTERD_STORE_ERROR,
                                                             NATTERD_STORE_ERROR_UNAVAILABLE));
          soup_server_message_unpause (upload->msg);
        }
      else
        upload_reply_error (upload, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      return;
    }
  /* Kept: it counts in the quotas for good. */
  upload->reserved = FALSE;
  upload->server->metrics->media_uploaded_bytes += upload->size;
  if (upload->finished)
    return;

  url = g_strdup_printf ("%s/media/%s/%s", upload->server->public_url, upload->app_key, upload->id);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, NATTER_API_OK);
  json_builder_set_member_name (builder, "url");
  json_builder_add_string_value (builder, url);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, upload->id);
  json_builder_set_member_name (builder, "hash");
  json_builder_add_string_value (builder, g_checksum_get_string (upload->checksum));
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) upload->size);
  json_builder_set_member_name (builder, "contentType");
  json_builder_add_string_value (builder, upload->content_type);
  json_builder_end_object (builder);
  reply_json (upload->msg, SOUP_STATUS_OK, builder);
  soup_server_message_unpause (upload->msg);
}

static void
fsync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY);

  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* Worker thread: make the file durable under its id. */
static void
finish_file (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Upload *upload = task_data;
  g_autofree char *dir = g_path_get_dirname (upload->final_path);
  int fd = g_file_descriptor_based_get_fd (G_FILE_DESCRIPTOR_BASED (upload->stream));
  g_autoptr(GError) error = NULL;
  int saved;

  if (fsync (fd) != 0)
    {
      saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                               upload->tmp_path, g_strerror (saved));
      return;
    }
  if (!g_output_stream_close (G_OUTPUT_STREAM (upload->stream), NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (g_mkdir_with_parents (dir, 0700) != 0 || g_rename (upload->tmp_path, upload->final_path) != 0)
    {
      saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                               upload->final_path, g_strerror (saved));
      return;
    }
  /* The rename itself is durable once the directory is synced. */
  fsync_dir (dir);
  g_task_return_boolean (task, TRUE);
}

static void
file_finished (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Upload *upload = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  NatterdMediaOp *op;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      natterd_log (G_LOG_LEVEL_WARNING, "media-write-failed", "error", error->message, NULL);
      upload_reply_error (upload, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      upload_unref (upload);
      return;
    }
  g_clear_object (&upload->stream);  /* closed on the thread */
  upload->kept = TRUE;

  op = natterd_op_new (NATTERD_OP_MEDIA, upload_stored, upload, upload_unref);
  op->app_id = upload->app_id;
  op->hash = g_strdup (upload->id);
  op->size = upload->size;
  op->content_type = g_strdup (upload->content_type);
  op->name = g_strdup (upload->name);
  op->uploader_id = upload->uploader_id;
  op->created = natterd_now_ms ();
  natterd_store_submit (upload->server->store, op);
}

/* Once the body is read and written, and the quotas are known: refuse, or
 * keep it. */
static void
maybe_finish (Upload *upload)
{
  NatterdServer *server = upload->server;
  NatterdApp *app;
  g_autoptr(GTask) task = NULL;

  if (!upload->body_done || upload->finishing || upload->busy)
    return;
  if (upload->finished)
    {
      upload->finishing = TRUE;
      return;
    }
  if (upload->status != 0)
    {
      upload->finishing = TRUE;
      upload_reply_error (upload, upload->status, upload->code, upload->reason);
      return;
    }
  if (upload->chunks.length > 0 || upload->stream == NULL)
    return;

  app = natterd_directory_lookup_app_id (server->directory, upload->app_id);
  if (app == NULL)
    {
      upload->finishing = TRUE;
      upload_reply_error (upload, SOUP_STATUS_UNAUTHORIZED, NATTER_CODE_APP_KEY_REJECTED, NULL);
      return;
    }
  if (wait_for_usage (upload, app))
    return;

  upload->finishing = TRUE;
  if (quotas_apply (server) && !quota_allows (server, app, upload->uploader_id, upload->size))
    {
      upload_reply_error (upload, SOUP_STATUS_INSUFFICIENT_STORAGE, NATTER_CODE_MEDIA_QUOTA_EXCEEDED,
                          "The media quota is used up");
      return;
    }
  /* Counted from now on, so uploads finishing meanwhile see it; given back
   * if it is not kept. */
  quota_add (app, upload->uploader_id, (gint64) upload->size);
  upload->reserved = TRUE;

  task = g_task_new (NULL, NULL, file_finished, NULL);
  g_task_set_task_data (task, upload_ref (upload), NULL);
  g_task_run_in_thread (task, finish_file);
}

/* The message is paused: it stays so only while the token's user was read
 * (the body is read from here on, into the file or dropped). */
static void
upload_authenticated (gpointer user_data)
{
  MediaAuth *auth = user_data;
  NatterdServer *self = auth->server;
  SoupServerMessage *msg = auth->msg;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *content_type = soup_message_headers_get_content_type (headers, NULL);
  const char *name = auth->name;
  g_autofree char *root = media_root_path (self);
  g_autofree char *tmp_dir = g_build_filename (root, "tmp", NULL);
  g_autofree char *tmp_name = NULL;
  g_autoptr(GTask) task = NULL;
  NatterdUser *user;
  Upload *upload;
  goffset length;

  if (auth->finished)
    return;
  soup_server_message_unpause (msg);

  user = authenticate (self, msg);
  if (user == NULL)
    return;

  length = soup_message_headers_get_content_length (headers);
  if (length > 0 && (guint64) length > self->config->media_max_size)
    {
      reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NATTER_CODE_MESSAGE_TOO_LARGE,
                   "The file is larger than the server accepts");
      return;
    }
  if (length > 0 && quotas_apply (self) && !quota_allows (self, user->app, user->id, (guint64) length))
    {
      reply_error (msg, SOUP_STATUS_INSUFFICIENT_STORAGE, NATTER_CODE_MEDIA_QUOTA_EXCEEDED,
                   "The media quota is used up");
      return;
    }
  /* Below [store] min-free nothing new is kept: refused before the body
   * fills the disk further. So while the store is unreachable. */
  if (natterd_store_is_full (self->store))
    {
      reply_store_refusal (msg, natterd_store_is_unreachable (self->store));
      return;
    }
  if ((name != NULL && (strlen (name) > MEDIA_NAME_MAX || !g_utf8_validate (name, -1, NULL))) ||
      (content_type != NULL && strlen (content_type) > CONTENT_TYPE_MAX))
    {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, NATTER_CODE_INVALID_PARAMETER, "Bad name or type");
      return;
    }

  upload = g_new0 (Upload, 1);
  g_atomic_ref_count_init (&upload->ref_count);
  upload->server = g_object_ref (self);
  upload->msg = msg;
  upload->app_id = user->app->id;
  upload->app_key = g_strdup (user->app->key);
  upload->uploader_id = user->id;
  upload->content_type = g_strdup (content_type != NULL ? content_type : "application/octet-stream");
  upload->name = g_strdup (name != NULL ? name : "");
  upload->id = natterd_random_hex (MEDIA_ID_BYTES);
  upload->final_path = media_path (self, upload->app_id, upload->id);
  upload->checksum = g_checksum_new (G_CHECKSUM_SHA256);
  upload->cancellable = g_cancellable_new ();
  g_queue_init (&upload->chunks);

  /* The file is created on a worker thread; chunks wait in the queue. */
  tmp_name = g_strconcat ("upload-", upload->id, NULL);
  upload->tmp_path = g_build_filename (tmp_dir, tmp_name, NULL);
  upload->busy = TRUE;
  task = g_task_new (NULL, upload->cancellable, file_created, upload_ref (upload));
  g_task_set_task_data (task, g_strdup (upload->tmp_path), g_free);
  /* A file made after all is kept to be closed and removed on a thread. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_run_in_thread (task, create_file);

  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_chunk), upload);
  g_signal_connect (msg, "finished", G_CALLBACK (upload_message_finished), upload);
  g_object_set_data_full (G_OBJECT (msg), "natterd-upload", upload, upload_unref);
}

static void
on_upload_early (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  NatterdServer *self = user_data;
  const char *name = query != NULL ? g_hash_table_lookup (query, "name") : NULL;
  MediaAuth *auth;

  /* Whatever happens next, the body is never held in memory: refused
   * uploads are still read by libsoup, and dropped chunk by chunk. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NATTER_CODE_INVALID_PARAMETER, "Use POST");
      return;
    }

  /* Nothing of the body is read until the token's user is known here. */
  auth = g_new0 (MediaAuth, 1);
  auth->name = g_strdup (name);
  media_with_token_user (self, msg, auth, upload_authenticated);
}

static void
on_upload (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Upload *upload = g_object_get_data (G_OBJECT (msg), "natterd-upload");

  if (upload == NULL)
    return;  /* answered by the early handler */

  if (upload->status == 0 && upload->size == 0)
    upload_refuse (upload, SOUP_STATUS_BAD_REQUEST, NATTER_CODE_INVALID_PARAMETER, "Empty file");

  soup_server_message_pause (msg);
  upload->body_done = TRUE;
  maybe_finish (upload);
}

/* ---------------------------------------------------------------- download */

typedef struct
{
  SoupServerMessage *msg;
  NatterdServer     *server;
  char              *path;
  char              *content_type;
  char              *name;
  guint64            size;        /* of the file, as stored */
  gboolean           size_unknown; /* not stored: taken from the open file */
  GInputStream      *stream;
  goffset            start;
  goffset            remaining;   /* bytes still to send */
  gboolean           pending;     /* a read of the row, an open or a read of the file is on its way */
  gboolean           finished;    /* the message is gone */
  GCancellable      *cancellable;
} Download;

static void
download_free (gpointer data)
{
  Download *download = data;

  g_signal_handlers_disconnect_by_data (download->msg, download);
  g_object_unref (download->msg);
  g_object_unref (download->server);
  g_free (download->path);
  g_free (download->content_type);
  g_free (download->name);
  g_clear_object (&download->cancellable);
  if (download->stream != NULL)
    {
      /* Closing a file is still I/O: on a thread. */
      g_input_stream_close_async (download->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_object_unref (download->stream);
    }
  g_free (download);
}

static void
download_message_finished (SoupServerMessage *msg,
                           gpointer           user_data)
{
  Download *download = user_data;

  download->finished = TRUE;
  g_cancellable_cancel (download->cancellable);
  /* Else the operation on its way frees it when it completes. */
  if (!download->pending)
    download_free (download);
}

/* Shown in the page (images, audio) or saved (everything else): with
 * nosniff and the sandbox, an upload claiming text/html or SVG never runs
 * as a page of natterd's origin. */
static gboolean
shown_inline (const char *content_type)
{
  return (g_str_has_prefix (content_type, "image/") && !g_str_has_prefix (content_type, "image/svg")) ||
         g_str_has_prefix (content_type, "audio/");
}

static void
set_headers (Download *download)
{
  SoupMessageHeaders *response = soup_server_message_get_response_headers (download->msg);
  g_autoptr(GHashTable) params = g_hash_table_new (g_str_hash, g_str_equal);

  soup_message_headers_set_content_type (response, download->content_type, NULL);
  soup_message_headers_replace (response, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (response, "Content-Security-Policy", "sandbox");
  soup_message_headers_replace (response, "Accept-Ranges", "bytes");
  soup_message_headers_replace (response, "Cache-Control", "private, max-age=31536000, immutable");
  if (download->name != NULL && *download->name != '\0')
    g_hash_table_insert (params, (gpointer) "filename", download->name);
  soup_message_headers_set_content_disposition (response,
                                                shown_inline (download->content_type) ? "inline" : "attachment",
                                                params);
}

static void read_next (Download *download);

static void
chunk_read (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Download *download = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  SoupMessageBody *body;

  download->pending = FALSE;
  if (download->finished)
    {
      download_free (download);
      return;
    }
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      /* The headers promised more: all the client can be told is that the
       * connection ends. */
      natterd_log (G_LOG_LEVEL_WARNING, "media-read-failed", "path", download->path,
                   "error", error != NULL ? error->message : "file shorter than stored", NULL);
      GIOStream *connection = soup_server_message_steal_connection (download->msg);

      g_io_stream_close (connection, NULL, NULL);
      g_object_unref (connection);
      download_free (download);
      return;
    }

  download->remaining -= (goffset) g_bytes_get_size (bytes);
  body = soup_server_message_get_response_body (download->msg);
  soup_message_body_append_bytes (body, bytes);
  if (download->remaining <= 0)
    soup_message_body_complete (body);
  soup_server_message_unpause (download->msg);
  if (download->remaining <= 0)
    {
      download->server->metrics->media_downloads++;
      download_free (download);
    }
}

static void
read_next (Download *download)
{
  if (download->pending || download->finished || download->remaining <= 0)
    return;
  download->pending = TRUE;
  g_input_stream_read_bytes_async (download->stream, (gsize) MIN (download->remaining, DOWNLOAD_CHUNK),
                                   G_PRIORITY_DEFAULT, download->cancellable, chunk_read, download);
}

static void
on_wrote_chunk (SoupServerMessage *msg,
                gpointer           user_data)
{
  read_next (user_data);
}

NatterdMediaRange
natterd_media_range (SoupMessageHeaders *request,
                     goffset             total,
                     goffset            *start,
                     goffset            *end)
{
  SoupRange *ranges = NULL;
  int n_ranges = 0;

  if (soup_message_headers_get_ranges (request, total, &ranges, &n_ranges))
    {
      /* One range (players seek with one); several are served as the first. */
      *start = ranges[0].start;
      *end = ranges[0].end;
      soup_message_headers_free_ranges (request, ranges);
      /* libsoup leaves a negative start for a suffix longer than the file
       * (which is all of it, RFC 9110 14.1.2) and for a first byte past
       * 2^63 (which is none of it). */
      if (*start < 0 && *end == total - 1)
        *start = 0;
      if (*start < 0 || *start >= total || *end < *start)
        return NATTERD_MEDIA_RANGE_UNSATISFIABLE;
      *end = MIN (*end, total - 1);
      return NATTERD_MEDIA_RANGE_PARTIAL;
    }
  if (soup_message_headers_get_one (request, "Range") != NULL)
    return NATTERD_MEDIA_RANGE_UNSATISFIABLE;
  return NATTERD_MEDIA_RANGE_NONE;
}

static void
file_opened (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Download *download = user_data;
  SoupServerMessage *msg = download->msg;
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  g_autoptr(GError) error = NULL;
  NatterdMediaRange range;
  goffset total = (goffset) download->size;
  goffset start = 0, end = total - 1;

  download->pending = FALSE;
  download->stream = G_INPUT_STREAM (g_file_read_finish (G_FILE (source), result, &error));
  if (download->finished)
    {
      download_free (download);
      return;
    }
  if (download->stream == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "media-missing", "path", download->path,
                   "error", error->message, NULL);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      soup_server_message_unpause (msg);
      download_free (download);
      return;
    }

  if (download->size_unknown)
    {
      /* fstat of the open descriptor: no disk read. */
      g_autoptr(GFileInfo) info = g_file_input_stream_query_info (G_FILE_INPUT_STREAM (download->stream),
                                                                  G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL, NULL);

      total = info != NULL ? (goffset) g_file_info_get_size (info) : 0;
      download->size = (guint64) total;
      end = total - 1;
    }

  set_headers (download);
  range = natterd_media_range (request, total, &start, &end);
  if (range == NATTERD_MEDIA_RANGE_PARTIAL)
    {
      soup_message_headers_set_content_range (response, start, end, total);
      soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
    }
  else if (range == NATTERD_MEDIA_RANGE_NONE)
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);

  if (range == NATTERD_MEDIA_RANGE_UNSATISFIABLE)
    {
      g_autofree char *unsatisfiable = g_strdup_printf ("bytes */%" G_GOFFSET_FORMAT, total);

      soup_message_headers_replace (response, "Content-Range", unsatisfiable);
      soup_server_message_set_status (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
      soup_server_message_unpause (msg);
      download_free (download);
      return;
    }

  soup_message_headers_set_content_length (response, end - start + 1);
  if (soup_server_message_get_method (msg) == SOUP_METHOD_HEAD || end < start)
    {
      soup_server_message_unpause (msg);
      download_free (download);
      return;
    }

  /* lseek: no I/O. */
  if (start > 0 && !g_seekable_seek (G_SEEKABLE (download->stream), start, G_SEEK_SET, NULL, &error))
    {
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      soup_server_message_unpause (msg);
      download_free (download);
      return;
    }
  download->start = start;
  download->remaining = end - start + 1;
  /* Sent chunks are dropped: a large file never sits in memory. */
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  g_signal_connect (msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk), download);
  read_next (download);
}

static void
media_read (NatterdRead *base,
            gpointer     user_data)
{
  NatterdMediaRead *read = (NatterdMediaRead *) base;
  Download *download = user_data;
  g_autoptr(GFile) file = NULL;

  download->pending = FALSE;
  if (download->finished)
    {
      download_free (download);
      return;
    }
  if (base->error != NULL || !read->found)
    {
      if (base->error != NULL)
        reply_error (download->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      else
        reply_error (download->msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      soup_server_message_unpause (download->msg);
      download_free (download);
      return;
    }

  download->content_type = g_strdup (read->content_type);
  download->name = g_strdup (read->name);
  download->size = read->size;
  file = g_file_new_for_path (download->path);
  download->pending = TRUE;
  g_file_read_async (file, G_PRIORITY_DEFAULT, download->cancellable, file_opened, download);
}

/* A random id (32 hex digits), or a content hash (64) from before ids were. */
static gboolean
is_media_id (const char *text)
{
  gsize length = text != NULL ? strlen (text) : 0;

  if (length != MEDIA_ID_BYTES * 2 && length != 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* The message is paused: it stays so while the file is read, and is
 * unpaused once an error is set. */
static void
download_authenticated (gpointer user_data)
{
  MediaAuth *auth = user_data;
  NatterdServer *self = auth->server;
  SoupServerMessage *msg = auth->msg;
  NatterdUser *user;
  NatterdMediaRead *read;
  Download *download;

  if (auth->finished)
    return;
  user = authenticate (self, msg);
  /* Media belongs to its app: another app's users do not see it exists. */
  if (user != NULL && !g_str_equal (user->app->key, auth->app_key))
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      user = NULL;
    }
  if (user == NULL)
    {
      soup_server_message_unpause (msg);
      return;
    }

  download = g_new0 (Download, 1);
  download->msg = g_object_ref (msg);
  download->server = g_object_ref (self);
  download->path = media_path (self, user->app->id, auth->hash);
  download->cancellable = g_cancellable_new ();
  g_signal_connect (msg, "finished", G_CALLBACK (download_message_finished), download);

  download->pending = TRUE;
  read = natterd_read_new (NATTERD_READ_MEDIA, media_read, download, NULL);
  read->app_id = user->app->id;
  read->hash = g_strdup (auth->hash);
  natterd_store_read (self->store, read);
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
  MediaAuth *auth;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NATTER_CODE_INVALID_PARAMETER, "Use GET");
      return;
    }

  /* "", "media", app key, id */
  if (g_strv_length (parts) != 4 || !is_media_id (parts[3]))
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      return;
    }

  auth = g_new0 (MediaAuth, 1);
  auth->app_key = g_strdup (parts[2]);
  auth->hash = g_strdup (parts[3]);
  media_with_token_user (self, msg, auth, download_authenticated);
}

void
natterd_server_serve_file (NatterdServer     *self,
                           SoupServerMessage *msg,
                           const char        *path,
                           const char        *content_type)
{
  Download *download = g_new0 (Download, 1);
  g_autoptr(GFile) file = g_file_new_for_path (path);

  download->msg = g_object_ref (msg);
  download->server = g_object_ref (self);
  download->path = g_strdup (path);
  download->content_type = g_strdup (content_type);
  download->size_unknown = TRUE;
  download->cancellable = g_cancellable_new ();
  g_signal_connect (msg, "finished", G_CALLBACK (download_message_finished), download);

  soup_server_message_pause (msg);
  download->pending = TRUE;
  g_file_read_async (file, G_PRIORITY_DEFAULT, download->cancellable, file_opened, download);
}

void
natterd_server_setup_media (NatterdServer *self)
{
  soup_server_add_early_handler (self->soup, "/media/upload", on_upload_early, self, NULL);
  soup_server_add_handler (self->soup, "/media/upload", on_upload, self, NULL);
  soup_server_add_handler (self->soup, "/media", on_download, self, NULL);
}
