/* natter-fuzz-client.c — libFuzzer target for the client's handling of
 * what natterd sends
 *
 * Each input is a run of a new NatterClient (in-memory store) through
 * natter_client_receive(), the path from a received WebSocket message to
 * stored messages and signals: decoding, connect acks, kicks, delivers
 * (stored, recalls, read receipts, status-only ones), publish acks, results,
 * chatroom events. Each message a signal hands out is read the way the app
 * reads it. Input: one byte of flags, then frames, each a 2-byte big-endian
 * length and its bytes. Flag bit 0: a ConnectAck for "me" comes first, as
 * if the connection had just been accepted.
 *
 * Whatever the bytes: no crash, no leak, no critical; everything the client
 * started (store writes and reads) finishes, and the client goes away.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natter-client-private.h"
#include "natter-message.h"

static GBytes *connect_ack;

static GBytes *
encode_connect_ack (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;
  g_autoptr(GError) error = NULL;
  GBytes *bytes;

  ack.code = 0;
  ack.user_id = (char *) "me";
  ack.server_time = NATTER_FUZZ_NOW_MS;
  ack.ping_interval = 30;
  frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  frame.connect_ack = &ack;
  bytes = natter_frame_encode (&frame, &error);
  g_assert_no_error (error);
  return bytes;
}

/* What the app reads of a message it is handed. */
static void
read_message (NatterMessage *message)
{
  g_autofree char *preview = natter_message_dup_preview (message);
  g_autofree char *json = natter_message_to_json_string (message);
  g_auto(GStrv) mentioned = natter_message_dup_mentioned_user_ids (message);
  g_autoptr(GBytes) thumbnail = natter_message_dup_image_thumbnail (message);

  /* Shown in labels and notifications, printed by natter-cli. */
  g_assert_true (g_utf8_validate (preview, -1, NULL));
  g_assert_true (g_utf8_validate (json, -1, NULL));
  natter_message_mentions (message, "me");
  natter_message_get_sender_name (message);
  natter_message_get_file_name (message);
  natter_message_get_voice_duration (message);
  natter_message_get_call_id (message);
  natter_message_get_call_duration (message);
  natter_message_get_recalled_object_name (message);
}

static void
message_cb (NatterClient  *client,
            NatterMessage *message,
            gpointer       user_data)
{
  g_assert_true (NATTER_IS_MESSAGE (message));
  read_message (message);
}

static void
chatroom_event_cb (NatterClient *client,
                   const char   *chatroom_id,
                   int           code,
                   gpointer      user_data)
{
  g_assert_nonnull (chatroom_id);
}

static void
opened_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *done = user_data;

  natter_store_open_finish (NATTER_STORE (object), result, NULL);
  *done = TRUE;
}

/* Runs what the last frame started, so each run of an input is the same:
 * the store does its jobs in order, so once a job queued now is done, so
 * is every job before it; twice, for the jobs their callbacks queued. */
static void
settle (NatterClient *client)
{
  for (int i = 0; i < 2; i++)
    {
      gboolean done = FALSE;

      natter_store_open_async (natter_client_get_store (client), NULL, opened_cb, &done);
      while (!done)
        g_main_context_iteration (NULL, TRUE);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  NatterClient *client;
  gpointer weak_client, weak_store;
  gsize offset = 1;

  natter_fuzz_quiet_logs ();
  if (size < 1)
    return 0;
  if (connect_ack == NULL)
    connect_ack = encode_connect_ack ();

  client = natter_client_new ("http://127.0.0.1:9", NATTER_FUZZ_APP_KEY, NULL);
  weak_client = client;
  weak_store = natter_client_get_store (client);
  g_object_add_weak_pointer (G_OBJECT (client), &weak_client);
  g_object_add_weak_pointer (weak_store, &weak_store);
  g_signal_connect (client, "message-received", G_CALLBACK (message_cb), NULL);
  g_signal_connect (client, "message-updated", G_CALLBACK (message_cb), NULL);
  g_signal_connect (client, "chatroom-event", G_CALLBACK (chatroom_event_cb), NULL);

  if (data[0] & 1)
    {
      natter_client_receive (client, g_bytes_get_data (connect_ack, NULL),
                             g_bytes_get_size (connect_ack));
      settle (client);
    }

  while (offset < size)
    {
      gsize length = 0;

      if (offset + 2 <= size)
        {
          length = (gsize) data[offset] << 8 | data[offset + 1];
          offset += 2;
        }
      else
        offset = size;
      length = MIN (length, size - offset);
      natter_client_receive (client, data + offset, length);
      offset += length;
      settle (client);
    }

  /* Everything pending finishes (a store write holds the client), then
   * both are gone. */
  g_object_unref (client);
  while (weak_client != NULL || weak_store != NULL)
    g_main_context_iteration (NULL, TRUE);

  return 0;
}
