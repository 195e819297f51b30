/* natter-outbox.c — what the client has sent and natterd not yet taken
 *
 * Every send is checked and named (a new client_msg_id) here, and waits
 * here for its PublishAck, found by that client_msg_id.
 * Persisted messages are stored (SENDING) before they are published, so
 * the outbox survives a crash: after every connect it is read back from
 * the store and published again with the same client_msg_id until natterd
 * acks it (natterd takes a client_msg_id once: exactly-once). Status-only
 * messages (typing, call signalling) are never stored and do not outlive
 * their connection.
 *
 * A media message is stored naming its local file (NATTER_CONTENT_LOCAL_PATH)
 * and uploaded before it is published, after a reconnect or a restart too.
 * An upload natterd fails for now goes again after 2 s, 4 s, … 60 s while
 * connected; one that cannot succeed (the file is gone, natterd refused it)
 * leaves the message FAILED with its code.
 *
 * The persisted messages of one conversation are published one at a time,
 * in the order they were written (message id): when natterd refuses one
 * for now (20604 too fast, 30002), the next waits for it to be taken
 * instead of overtaking it, so the peer reads them in the order they were
 * sent. Conversations do not wait for each other. A message still waiting
 * for its file's upload holds nobody up.
 *
 * The client owns the outbox, tells it what becomes of the connection and
 * hands it every PublishAck; the outbox asks the client only whether it is
 * connected (or wants to be) and to send a frame (natter-client-private.h).
 * The senders' GTasks are the client's; the outbox returns them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-outbox.h"

#include <string.h>

#include "natter-json.h"
#include "natter-message-private.h"
#include "natter-store-private.h"
#include "natter-timeline-sync.h"

#define TOO_FAST_RETRY_MS   2000
#define UPLOAD_RETRY_MAX_MS 60000

typedef struct {
  NatterOutbox *outbox;         /* unowned: the outbox owns its pending sends */
  char *client_msg_id;
  NatterMessage *message;       /* the stored row (persisted) or the transient message */
  GList *tasks;                 /* GTasks waiting for the ack */
  gboolean published;           /* on the current connection */
  guint retry_source;
  gboolean uploading;           /* a media message's file is being uploaded */
  GCancellable *upload_cancellable; /* of that upload: the user may stop it */
  guint upload_failures;        /* in a row, while connected: the next retry waits longer */
  GFileProgressCallback progress; /* of that upload, while the first sender waits */
  gpointer progress_data;
  GList *order_link;            /* in its conversation's send order (persisted only) */
} PendingSend;

struct _NatterOutbox
{
  GObject parent_instance;

  NatterClient *client;         /* weak: the client owns the outbox */
  NatterStore *store;
  GHashTable *pending_sends;    /* client_msg_id -> PendingSend */
  GHashTable *send_order;       /* conversation key -> GQueue of PendingSend, by message id */
};

G_DEFINE_FINAL_TYPE (NatterOutbox, natter_outbox, G_TYPE_OBJECT)

static void publish_pending (NatterOutbox *self,
                             PendingSend  *pending);

static gboolean
is_connected (NatterOutbox *self)
{
  return self->client != NULL && natter_client_is_connected (self->client);
}

/* ------------------------------------------------------------ send order */

static char *
send_order_key (NatterMessage *message)
{
  return g_strdup_printf ("%d\t%s", natter_message_get_conversation_type (message),
                          natter_message_get_target_id (message));
}

static void
send_order_add (NatterOutbox *self,
                PendingSend  *pending)
{
  gint64 id = natter_message_get_message_id (pending->message);
  g_autofree char *key = NULL;
  GQueue *queue;
  GList *l;

  if (pending->order_link != NULL || id <= 0 || !natter_message_is_persisted (pending->message))
    return;

  key = send_order_key (pending->message);
  queue = g_hash_table_lookup (self->send_order, key);
  if (queue == NULL)
    {
      queue = g_queue_new ();
      g_hash_table_insert (self->send_order, g_steal_pointer (&key), queue);
    }

  /* A new message has the highest id: look from the tail. */
  for (l = queue->tail; l != NULL; l = l->prev)
    if (natter_message_get_message_id (((PendingSend *) l->data)->message) < id)
      break;
  g_queue_insert_after (queue, l, pending);
  pending->order_link = l != NULL ? l->next : queue->head;
}

static void
send_order_remove (NatterOutbox *self,
                   PendingSend  *pending)
{
  g_autofree char *key = NULL;
  GQueue *queue;

  if (pending->order_link == NULL)
    return;

  key = send_order_key (pending->message);
  queue = g_hash_table_lookup (self->send_order, key);
  g_queue_delete_link (queue, g_steal_pointer (&pending->order_link));
  if (g_queue_is_empty (queue))
    g_hash_table_remove (self->send_order, key);
}

static gboolean
is_ready (PendingSend *pending)
{
  return !natter_message_needs_upload (pending->message);
}

/* TRUE when an earlier message of the conversation has to go first. */
static gboolean
waits_for_earlier (PendingSend *pending)
{
  if (pending->order_link == NULL)
    return FALSE;
  for (GList *l = pending->order_link->prev; l != NULL; l = l->prev)
    if (is_ready (l->data))
      return TRUE;
  return FALSE;
}

/* One of the conversation of @key is done: the next one goes, unless an
 * earlier one still waits for its ack or its retry. */
static void
send_order_next (NatterOutbox *self,
                 const char   *key)
{
  GQueue *queue = g_hash_table_lookup (self->send_order, key);

  for (GList *l = queue != NULL ? queue->head : NULL; l != NULL; l = l->next)
    {
      PendingSend *pending = l->data;

      if (!is_ready (pending))
        continue;
      if (!pending->published && pending->retry_source == 0)
        publish_pending (self, pending);
      return;
    }
}

/* ------------------------------------------------------------ pending sends */

static void
pending_send_free (PendingSend *pending)
{
  send_order_remove (pending->outbox, pending);
  g_clear_handle_id (&pending->retry_source, g_source_remove);
  g_clear_object (&pending->upload_cancellable);
  g_free (pending->client_msg_id);
  g_clear_object (&pending->message);
  g_list_free_full (pending->tasks, g_object_unref);
  g_free (pending);
}

static void
pending_send_return_error (PendingSend  *pending,
                           const GError *error)
{
  GList *tasks = g_steal_pointer (&pending->tasks);

  /* Whoever gave the progress callback stops waiting. */
  pending->progress = NULL;
  pending->progress_data = NULL;

  for (GList *l = tasks; l != NULL; l = l->next)
    g_task_return_error (l->data, g_error_copy (error));
  g_list_free_full (tasks, g_object_unref);
}

static void
pending_send_return_message (PendingSend *pending)
{
  GList *tasks = g_steal_pointer (&pending->tasks);

  pending->progress = NULL;
  pending->progress_data = NULL;

  for (GList *l = tasks; l != NULL; l = l->next)
    g_task_return_pointer (l->data, g_object_ref (pending->message), g_object_unref);
  g_list_free_full (tasks, g_object_unref);
}

static PendingSend *
add_pending (NatterOutbox  *self,
             NatterMessage *message)
{
  const char *id = natter_message_get_client_msg_id (message);
  PendingSend *pending = g_hash_table_lookup (self->pending_sends, id);

  if (pending != NULL)
    {
      g_set_object (&pending->message, message);
      return pending;
    }

  pending = g_new0 (PendingSend, 1);
  pending->outbox = self;
  pending->client_msg_id = g_strdup (id);
  pending->message = g_object_ref (message);
  g_hash_table_insert (self->pending_sends, pending->client_msg_id, pending);
  send_order_add (self, pending);
  return pending;
}

/* Forgets @pending (done or failed for good); the next of its conversation goes. */
static void
remove_pending (NatterOutbox *self,
                PendingSend  *pending)
{
  g_autofree char *key = send_order_key (pending->message);

  g_hash_table_remove (self->pending_sends, pending->client_msg_id);
  send_order_next (self, key);
}

void
natter_outbox_stop_waiting (NatterOutbox *self,
                            const GError *error)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new ();
  GHashTableIter iter;
  PendingSend *pending;

  g_return_if_fail (NATTER_IS_OUTBOX (self));

  g_hash_table_iter_init (&iter, self->pending_sends);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &pending))
    {
      pending_send_return_error (pending, error);
      /* Status-only messages do not survive a disconnect. */
      if (!natter_message_is_persisted (pending->message))
        g_ptr_array_add (done, pending->client_msg_id);
    }

  for (guint i = 0; i < done->len; i++)
    g_hash_table_remove (self->pending_sends, g_ptr_array_index (done, i));
}

void
natter_outbox_connection_lost (NatterOutbox *self,
                               const GError *error)
{
  GHashTableIter iter;
  PendingSend *pending;
  g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_send_free);

  g_return_if_fail (NATTER_IS_OUTBOX (self));

  /* Status-only messages are not kept: their ack will never come on a new
   * connection. Persisted ones wait in the outbox for it. */
  g_hash_table_iter_init (&iter, self->pending_sends);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &pending))
    {
      pending->published = FALSE;
      if (!natter_message_is_persisted (pending->message))
        {
          g_hash_table_iter_steal (&iter);
          g_ptr_array_add (failed, pending);
        }
    }

  for (guint i = 0; i < failed->len; i++)
    pending_send_return_error (g_ptr_array_index (failed, i), error);
}

guint
natter_outbox_get_n_pending (NatterOutbox *self)
{
  g_return_val_if_fail (NATTER_IS_OUTBOX (self), 0);
  return g_hash_table_size (self->pending_sends);
}

/* ---------------------------------------------------------------- publish */

static void upload_pending (NatterOutbox *self,
                            PendingSend  *pending);

static void
publish_pending (NatterOutbox *self,
                 PendingSend  *pending)
{
  Natter__Frame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  g_autofree char *content = NULL;

  if (!is_connected (self) || pending->retry_source != 0 || waits_for_earlier (pending))
    return;

  /* Its file first: the published content has the URL, never a local path. */
  if (natter_message_needs_upload (pending->message))
    {
      upload_pending (self, pending);
      return;
    }

  content = natter_message_dup_published_content (pending->message);

  publish.client_msg_id = pending->client_msg_id;
  publish.conversation_type = natter_message_get_conversation_type (pending->message);
  publish.target_id = (char *) natter_message_get_target_id (pending->message);
  publish.object_name = (char *) natter_message_get_object_name (pending->message);
  publish.content = content;
  publish.flags = natter_message_get_flags (pending->message);
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;

  if (natter_client_send_frame (self->client, &frame))
    pending->published = TRUE;
}

static gboolean
retry_publish_cb (gpointer user_data)
{
  PendingSend *pending = user_data;

  pending->retry_source = 0;
  publish_pending (pending->outbox, pending);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------ acks */

/* The store and upload callbacks find their pending send by client_msg_id:
 * it may be gone (failed for good, sent again) by then. */
typedef struct {
  NatterOutbox *self;
  char *client_msg_id;
} AckData;

static AckData *
ack_data_new (NatterOutbox *self,
              const char   *client_msg_id)
{
  AckData *data = g_new0 (AckData, 1);

  data->self = g_object_ref (self);
  data->client_msg_id = g_strdup (client_msg_id);
  return data;
}

static void
ack_data_free (AckData *data)
{
  g_object_unref (data->self);
  g_free (data->client_msg_id);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AckData, ack_data_free)

static gboolean
is_transient_refusal (int code)
{
  return code == NATTER_CODE_SEND_TOO_FAST || code == NATTER_CODE_SERVER_ERROR ||
         code == NATTER_CODE_TIMEOUT;
}

static void
ack_stored_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(AckData) data = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  PendingSend *pending;

  message = natter_store_update_message_finish (NATTER_STORE (object), result, &error);
  pending = g_hash_table_lookup (data->self->pending_sends, data->client_msg_id);
  if (pending == NULL)
    return;

  if (message == NULL)
    {
      g_warning ("Cannot store the ack of %s: %s", data->client_msg_id, error->message);
      pending_send_return_error (pending, error);
    }
  else if (natter_message_get_sent_status (message) == NATTER_SENT_STATUS_FAILED)
    {
      g_autoptr(GError) refusal = natter_client_error_new (natter_message_get_error_code (message),
                                                           NULL);

      pending_send_return_error (pending, refusal);
    }
  else
    {
      pending_send_return_message (pending);
    }

  remove_pending (data->self, pending);
}

void
natter_outbox_handle_ack (NatterOutbox             *self,
                          const Natter__PublishAck *ack)
{
  PendingSend *pending;
  NatterMessage *message;
  g_autoptr(NatterMessage) update = NULL;

  g_return_if_fail (NATTER_IS_OUTBOX (self));

  pending = g_hash_table_lookup (self->pending_sends, ack->client_msg_id);
  if (pending == NULL)
    {
      g_debug ("Ack for %s, which is not waiting (acked twice)", ack->client_msg_id);
      return;
    }

  message = pending->message;

  if (ack->code != NATTER_CODE_OK && is_transient_refusal (ack->code))
    {
      /* Sending too fast: the same client_msg_id goes again shortly. */
      g_clear_handle_id (&pending->retry_source, g_source_remove);
      pending->retry_source = g_timeout_add (TOO_FAST_RETRY_MS, retry_publish_cb, pending);
      return;
    }

  if (!natter_message_is_persisted (message))
    {
      if (ack->code == NATTER_CODE_OK)
        {
          natter_message_set_sent_time (message, ack->sent_time);
          natter_message_set_sent_status (message, NATTER_SENT_STATUS_SENT);
          pending_send_return_message (pending);
        }
      else
        {
          g_autoptr(GError) error = natter_client_error_new (ack->code, ack->error_message);

          natter_message_set_error_code (message, ack->code);
          natter_message_set_sent_status (message, NATTER_SENT_STATUS_FAILED);
          pending_send_return_error (pending, error);
        }
      g_hash_table_remove (self->pending_sends, ack->client_msg_id);
      return;
    }

  /* The stored row changes; the shared object follows when the store says so. */
  update = natter_message_copy (message);
  /* Sent before the first connect told us who we are. */
  if (natter_message_get_sender_user_id (message) == NULL ||
      *natter_message_get_sender_user_id (message) == '\0')
    natter_message_set_sender_user_id (update, natter_client_get_user_id (self->client));
  if (ack->code == NATTER_CODE_OK)
    {
      natter_message_set_message_uid (update, ack->message_uid);
      if (ack->sent_time > 0)
        natter_message_set_sent_time (update, ack->sent_time);
      natter_message_set_sent_status (update, NATTER_SENT_STATUS_SENT);
      natter_message_set_error_code (update, 0);
    }
  else
    {
      natter_message_set_sent_status (update, NATTER_SENT_STATUS_FAILED);
      natter_message_set_error_code (update, ack->code);
    }

  natter_store_update_message_async (self->store, update, NULL, ack_stored_cb,
                                     ack_data_new (self, ack->client_msg_id));

  /* NT:ClearCmd: natterd has it (other devices are told), so this device
   * clears too, also when it was sent again after a restart. */
  if (ack->code == NATTER_CODE_OK && natter_message_get_kind (update) == NATTER_MESSAGE_KIND_CLEAR_COMMAND)
    natter_store_clear_messages_async (self->store, natter_message_get_conversation_type (update),
                                       natter_message_get_target_id (update), NULL, NULL, NULL);

  /* A group message's place on its timeline: held from now on (after the
   * update above, on the same store thread), so the next one that comes
   * live is not taken for a gap and nothing is fetched back. */
  if (ack->code == NATTER_CODE_OK && ack->timeline_seq > 0 && self->client != NULL &&
      natter_client_get_timeline_sync (self->client) != NULL)
    {
      natter_message_set_timeline_seq (update, ack->timeline_seq);
      natter_timeline_sync_deliver (natter_client_get_timeline_sync (self->client), update);
    }
}

/* -------------------------------------------------------- uploads of media */

static void
upload_progress_cb (goffset  current,
                    goffset  total,
                    gpointer user_data)
{
  AckData *data = user_data;
  PendingSend *pending = g_hash_table_lookup (data->self->pending_sends, data->client_msg_id);

  /* none once stopped: what is still in flight does not count */
  if (pending == NULL || g_cancellable_is_cancelled (pending->upload_cancellable))
    return;
  /* Only while the sender that asked for it waits. */
  if (pending->progress != NULL)
    pending->progress (current, total, pending->progress_data);
  /* Whoever shows the message (its bubble), also after a restart. */
  if (data->self->client != NULL)
    natter_client_emit_upload_progress (data->self->client, data->client_msg_id, current, total);
}

static void
upload_stored_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(AckData) data = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  PendingSend *pending;

  message = natter_store_update_message_finish (NATTER_STORE (object), result, &error);
  pending = g_hash_table_lookup (data->self->pending_sends, data->client_msg_id);
  if (message == NULL)
    {
      g_warning ("Cannot store the uploaded message %s: %s", data->client_msg_id, error->message);
      if (pending != NULL)
        pending_send_return_error (pending, error);
      return;
    }

  if (pending == NULL)
    return;
  /* Stopped meanwhile: the row waits in the outbox, now with its URL. */
  if (natter_message_get_sent_status (message) == NATTER_SENT_STATUS_SENDING)
    {
      g_set_object (&pending->message, message);
      publish_pending (data->self, pending);
    }
}

static void
upload_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(AckData) data = user_data;
  NatterOutbox *self = data->self;
  g_autoptr(JsonObject) content = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) update = NULL;
  PendingSend *pending;
  NatterMessage *message;
  gboolean definite, cancelled;

  content = natter_client_upload_message_finish (NATTER_CLIENT (object), result, &error);
  pending = g_hash_table_lookup (self->pending_sends, data->client_msg_id);
  if (pending == NULL)
    return;
  pending->uploading = FALSE;
  g_clear_object (&pending->upload_cancellable);
  message = pending->message;

  /* Stopped by the user: FAILED like a refusal (sent again on request), not
   * kept for the next connect. */
  cancelled = content == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  definite = content == NULL && (cancelled || natter_upload_error_is_definite (error));
  if (content == NULL && !definite)
    {
      /* The message stays SENDING in the outbox. natterd away: uploaded
       * again on the next connect; natterd here but failing (a full disk,
       * say): again after 2 s, 4 s, … 60 s, the connection notwithstanding. */
      /* Said as transient whatever failed (the network, natterd, a reply
       * cut short), so the app and the CLI tell it from a refusal. */
      int code = natter_client_error_is_transient (error) ? error->code
                 : is_connected (self) ? NATTER_CODE_SERVER_ERROR : NATTER_CODE_NOT_CONNECTED;
      g_autoptr(GError) kept = g_error_new (NATTER_CLIENT_ERROR, code,
                                            "%s — kept in the outbox, it goes when natterd takes it",
                                            error->message);

      g_debug ("Upload for %s failed, kept in the outbox: %s", data->client_msg_id, error->message);
      pending_send_return_error (pending, kept);
      if (is_connected (self) && pending->retry_source == 0)
        {
          guint delay = MIN ((guint) TOO_FAST_RETRY_MS << MIN (pending->upload_failures, 5u),
                             (guint) UPLOAD_RETRY_MAX_MS);

          pending->upload_failures++;
          pending->retry_source = g_timeout_add (delay, retry_publish_cb, pending);
        }
      return;
    }
  pending->upload_failures = 0;

  /* Never published yet: no messageUId, not offline. */
  update = natter_message_copy (message);
  natter_message_set_message_uid (update, NULL);
  natter_message_set_offline (update, FALSE);
  if (content != NULL)
    natter_message_set_content (update, natter_message_get_object_name (message), content);
  natter_message_set_sent_status (update,
                                  definite ? NATTER_SENT_STATUS_FAILED : NATTER_SENT_STATUS_SENDING);
  natter_message_set_error_code (update, !definite || cancelled ? 0
                                         : error->domain == NATTER_CLIENT_ERROR ? error->code
                                         : NATTER_CODE_INVALID_PARAMETER);

  if (definite)
    {
      /* Kept FAILED with its code: the UI offers to send it again. */
      g_autoptr(GError) refused = cancelled ? g_error_copy (error)
                                  : g_error_new (NATTER_CLIENT_ERROR,
                                                 natter_message_get_error_code (update),
                                                 "%s", error->message);

      pending_send_return_error (pending, refused);
      remove_pending (self, pending);
    }

  natter_store_update_message_async (self->store, update, NULL, upload_stored_cb,
                                     g_steal_pointer (&data));
}

static void
upload_pending (NatterOutbox *self,
                PendingSend  *pending)
{
  AckData *data;

  if (pending->uploading)
    return;
  pending->uploading = TRUE;
  g_clear_object (&pending->upload_cancellable);
  pending->upload_cancellable = g_cancellable_new ();

  /* @data lives until the upload is done, so it serves the progress too. */
  data = ack_data_new (self, pending->client_msg_id);
  natter_client_upload_message_async (self->client, pending->message, upload_progress_cb, data,
                                      pending->upload_cancellable, upload_done_cb, data);
}

gboolean
natter_outbox_cancel_upload (NatterOutbox *self,
                             const char   *client_msg_id)
{
  PendingSend *pending;

  g_return_val_if_fail (NATTER_IS_OUTBOX (self), FALSE);

  pending = client_msg_id != NULL ? g_hash_table_lookup (self->pending_sends, client_msg_id) : NULL;
  if (pending == NULL || !pending->uploading || pending->upload_cancellable == NULL)
    return FALSE;
  g_cancellable_cancel (pending->upload_cancellable);
  return TRUE;
}

/* ------------------------------------------------------------------ sends */

/* What a sender's store write needs once it is done. */
typedef struct {
  NatterOutbox *self;
  GTask *task;
  GFileProgressCallback progress;
  gpointer progress_data;
} SendData;

static SendData *
send_data_new (NatterOutbox          *self,
               GTask                 *task,
               GFileProgressCallback  progress,
               gpointer               progress_data)
{
  SendData *data = g_new0 (SendData, 1);

  data->self = g_object_ref (self);
  data->task = g_object_ref (task);
  data->progress = progress;
  data->progress_data = progress_data;
  return data;
}

static void
send_data_free (SendData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->task);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SendData, send_data_free)

static void
sent_stored_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(SendData) data = user_data;
  NatterOutbox *self = data->self;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  PendingSend *pending;

  message = natter_store_add_message_finish (NATTER_STORE (object), result, NULL, &error);
  if (message == NULL)
    {
      g_task_return_error (data->task, g_steal_pointer (&error));
      return;
    }

  pending = add_pending (self, message);
  pending->tasks = g_list_append (pending->tasks, g_object_ref (data->task));
  if (data->progress != NULL)
    {
      pending->progress = data->progress;
      pending->progress_data = data->progress_data;
    }

  /* Not connected: it waits in the outbox for the next connect. */
  if (self->client == NULL || !natter_client_wants_connection (self->client))
    {
      g_autoptr(GError) not_connected = natter_client_error_new (NATTER_CODE_NOT_CONNECTED,
                                                                 "kept in the outbox");
      pending_send_return_error (pending, not_connected);
      return;
    }

  publish_pending (self, pending);
}

/* What natterd would refuse anyway is refused before anything is stored. */
static gboolean
check_send_arguments (NatterConversationType   type,
                      const char              *target_id,
                      const char              *object_name,
                      const char              *content,
                      GError                 **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!NATTER_CONVERSATION_TYPE_IS_VALID (type) || !natter_id_is_valid (target_id) ||
      object_name == NULL || *object_name == '\0' ||
      strlen (object_name) > NATTER_OBJECT_NAME_MAX_LENGTH)
    {
      g_set_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                   "Invalid parameter (%d): conversation type, target id or object name",
                   NATTER_CODE_INVALID_PARAMETER);
      return FALSE;
    }

  if (!natter_content_is_valid (content, &local_error))
    {
      int code = natter_proto_error_to_code (local_error);

      g_set_error (error, NATTER_CLIENT_ERROR, code, "%s (%d): %s",
                   natter_code_to_string (code), code, local_error->message);
      return FALSE;
    }

  return TRUE;
}

void
natter_outbox_send (NatterOutbox           *self,
                    NatterConversationType  type,
                    const char             *target_id,
                    const char             *object_name,
                    JsonObject             *content,
                    GFileProgressCallback   progress,
                    gpointer                progress_data,
                    GTask                  *task)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(JsonObject) empty = NULL;
  g_autofree char *text = NULL;
  g_autofree char *client_msg_id = NULL;
  g_autoptr(GError) error = NULL;
  const char *user_id;
  gint64 now;
  PendingSend *pending;

  g_return_if_fail (NATTER_IS_OUTBOX (self));
  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (self->client != NULL);

  if (content == NULL)
    content = empty = json_object_new ();
  text = natter_content_to_string (content);
  if (!check_send_arguments (type, target_id, object_name, text, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Sent before the first connect: the ack fills in who we are. */
  user_id = natter_client_get_user_id (self->client);
  now = natter_client_server_now (self->client);
  client_msg_id = g_uuid_string_random ();
  message = natter_message_new_full (0, NULL, type, target_id, user_id ? user_id : "", object_name,
                                     content, NATTER_MESSAGE_DIRECTION_SEND, NATTER_SENT_STATUS_SENDING, now,
                                     g_get_real_time () / 1000, FALSE, 0, client_msg_id,
                                     natter_object_name_flags (object_name,
                                                               NATTER_MESSAGE_FLAG_PERSISTED |
                                                               NATTER_MESSAGE_FLAG_COUNTED));

  if (natter_message_is_persisted (message))
    {
      natter_store_add_message_async (self->store, message, NULL, sent_stored_cb,
                                      send_data_new (self, task, progress, progress_data));
      return;
    }

  if (!is_connected (self))
    {
      g_task_return_error (task, natter_client_error_new (NATTER_CODE_NOT_CONNECTED, NULL));
      return;
    }

  pending = add_pending (self, message);
  pending->tasks = g_list_append (pending->tasks, g_object_ref (task));
  publish_pending (self, pending);
}

static void
resend_stored_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(SendData) data = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  PendingSend *pending;

  message = natter_store_update_message_finish (NATTER_STORE (object), result, &error);
  if (message == NULL)
    {
      g_task_return_error (data->task, g_steal_pointer (&error));
      return;
    }

  pending = add_pending (data->self, message);
  pending->tasks = g_list_append (pending->tasks, g_object_ref (data->task));
  publish_pending (data->self, pending);
}

void
natter_outbox_resend (NatterOutbox  *self,
                      NatterMessage *message,
                      GTask         *task)
{
  g_autoptr(NatterMessage) update = NULL;
  g_autofree char *client_msg_id = g_uuid_string_random ();

  g_return_if_fail (NATTER_IS_OUTBOX (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (self->client != NULL);

  if (natter_message_get_message_id (message) == 0 ||
      natter_message_get_direction (message) != NATTER_MESSAGE_DIRECTION_SEND ||
      natter_message_get_sent_status (message) > NATTER_SENT_STATUS_FAILED)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Only a stored message of ours that failed can be sent again");
      return;
    }

  /* The old client_msg_id was refused for good: the retry is a new send. */
  update = natter_message_copy (message);
  natter_message_set_message_uid (update, NULL);
  natter_message_set_sent_status (update, NATTER_SENT_STATUS_SENDING);
  natter_message_set_sent_time (update, natter_client_server_now (self->client));
  natter_message_set_received_time (update, g_get_real_time () / 1000);
  natter_message_set_offline (update, FALSE);
  natter_message_set_error_code (update, 0);
  natter_message_set_client_msg_id (update, client_msg_id);
  if (natter_message_get_client_msg_id (message) != NULL)
    g_hash_table_remove (self->pending_sends, natter_message_get_client_msg_id (message));

  natter_store_update_message_async (self->store, update, NULL, resend_stored_cb,
                                     send_data_new (self, task, NULL, NULL));
}

/* ------------------------------------------------------------- reconnects */

static void
outbox_read_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(NatterOutbox) self = user_data;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;

  outbox = natter_store_get_outbox_finish (NATTER_STORE (object), result, &error);
  if (outbox == NULL)
    {
      g_warning ("Cannot read the outbox: %s", error->message);
      return;
    }

  for (guint i = 0; i < outbox->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (outbox, i);
      PendingSend *pending;

      if (natter_message_get_client_msg_id (message) == NULL)
        continue;

      pending = add_pending (self, message);
      if (!pending->published)
        publish_pending (self, pending);
    }
}

void
natter_outbox_connected (NatterOutbox *self)
{
  g_return_if_fail (NATTER_IS_OUTBOX (self));

  natter_store_get_outbox_async (self->store, NULL, outbox_read_cb, g_object_ref (self));
}

/* ---------------------------------------------------------------- GObject */

static void
natter_outbox_dispose (GObject *object)
{
  NatterOutbox *self = (NatterOutbox *) object;

  g_clear_weak_pointer (&self->client);

  G_OBJECT_CLASS (natter_outbox_parent_class)->dispose (object);
}

static void
natter_outbox_finalize (GObject *object)
{
  NatterOutbox *self = (NatterOutbox *) object;

  /* Pending sends leave their send order: it goes last. */
  g_hash_table_unref (self->pending_sends);
  g_hash_table_unref (self->send_order);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (natter_outbox_parent_class)->finalize (object);
}

static void
natter_outbox_class_init (NatterOutboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_outbox_dispose;
  object_class->finalize = natter_outbox_finalize;
}

static void
natter_outbox_init (NatterOutbox *self)
{
  self->pending_sends = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                               (GDestroyNotify) pending_send_free);
  self->send_order = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_queue_free);
}

NatterOutbox *
natter_outbox_new (NatterClient *client,
                   NatterStore  *store)
{
  NatterOutbox *self;

  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);
  g_return_val_if_fail (NATTER_IS_STORE (store), NULL);

  self = g_object_new (NATTER_TYPE_OUTBOX, NULL);
  g_set_weak_pointer (&self->client, client);
  self->store = g_object_ref (store);
  return self;
}
