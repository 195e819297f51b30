/* natter-cli-generate.c — a synthetic profile for benchmarks
 *
 * natter-cli generate-profile DIR [--messages N] [--conversations N] [--owner ID] [--images]
 *
 * Writes DIR/natter.db through the store's public bulk import: N text
 * messages (English and Chinese words, a fixed seed, so every run writes
 * the same profile) sent one a second until now, round-robin over the
 * private conversations with "peer0", "peer1", …, half of them incoming.
 * The last message of each conversation is unread, so the list shows
 * unread counts. Batches of 50,000 messages, each one transaction.
 * --images: every message is a photo (RC:ImgMsg) of one of 16 1600×1200
 * JPEG files written to DIR/photos (imageUri their file: URI), with the
 * thumbnail the app makes when it sends one, as a chat full of pictures
 * scrolls.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-cli.h"

#include <errno.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <stdio.h>

#define BATCH 50000

static const char * const words[] = {
  "hello", "meeting", "tomorrow", "lunch", "project", "release", "coffee", "weekend",
  "photo", "address", "train", "ticket", "birthday", "invoice", "review", "music",
  "你好", "明天", "会议", "周末", "电影", "晚饭", "项目", "谢谢",
};

#define N_PHOTOS 16

typedef struct {
  GAsyncResult *result;
} Wait;

/* Photo @n of the profile: a 1600×1200 JPEG written to @path, a gradient
 * of colour @n with some grain (a camera's photo is not one flat colour,
 * and its thumbnail's size follows). */
static gboolean
write_photo (const char  *path,
             guint        n,
             GError     **error)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 1600, 1200);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  guint32 grain = 2166136261u ^ n;

  for (int y = 0; y < 1200; y++)
    for (int x = 0; x < 1600; x++)
      {
        guchar *p = pixels + y * stride + x * 3;

        grain = grain * 1664525u + 1013904223u;
        p[0] = (guchar) (n * 16 + x / 13 + (grain >> 29));
        p[1] = (guchar) (255 - n * 16 + y / 9 + ((grain >> 26) & 7));
        p[2] = (guchar) (((x + y) / 12) ^ (n * 37));
      }
  return gdk_pixbuf_save (pixbuf, path, "jpeg", error, "quality", "85", NULL);
}

static void
wait_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *wait = user_data;

  wait->result = g_object_ref (result);
}

static GAsyncResult *
wait_result (Wait *wait)
{
  while (wait->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (&wait->result);
}

/* DIR/photos/photo-N.jpg, real files, and their thumbnails made as the app
 * makes them when it sends a photo (natter_image_thumbnail_new_async()). */
static gboolean
make_photos (const char   *dir,
             char       ***uris,
             char       ***thumbnails,
             GError      **error)
{
  g_autofree char *photos = g_build_filename (dir, "photos", NULL);
  g_auto(GStrv) made_uris = g_new0 (char *, N_PHOTOS + 1);
  g_auto(GStrv) made_thumbnails = g_new0 (char *, N_PHOTOS + 1);
  Wait wait = { NULL };

  if (g_mkdir_with_parents (photos, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s", photos,
                   g_strerror (errno));
      return FALSE;
    }
  for (guint i = 0; i < N_PHOTOS; i++)
    {
      g_autofree char *name = g_strdup_printf ("photo-%02u.jpg", i);
      g_autofree char *path = g_build_filename (photos, name, NULL);
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autoptr(GAsyncResult) result = NULL;

      if (!write_photo (path, i, error))
        return FALSE;
      natter_image_thumbnail_new_async (file, NULL, wait_cb, &wait);
      result = wait_result (&wait);
      if ((made_thumbnails[i] = natter_image_thumbnail_new_finish (result, error)) == NULL)
        return FALSE;
      made_uris[i] = g_file_get_uri (file);
    }
  *uris = g_steal_pointer (&made_uris);
  *thumbnails = g_steal_pointer (&made_thumbnails);
  return TRUE;
}

/* One batch: the messages and the strings and contents they point to. */
typedef struct {
  GArray *messages;     /* NatterImportedMessage */
  GPtrArray *strings;
  GPtrArray *contents;
} Batch;

static void
batch_init (Batch *batch)
{
  batch->messages = g_array_sized_new (FALSE, FALSE, sizeof (NatterImportedMessage), BATCH);
  batch->strings = g_ptr_array_new_full (3 * BATCH, g_free);
  batch->contents = g_ptr_array_new_full (BATCH, (GDestroyNotify) json_object_unref);
}

static void
batch_clear (Batch *batch)
{
  g_clear_pointer (&batch->messages, g_array_unref);
  g_clear_pointer (&batch->strings, g_ptr_array_unref);
  g_clear_pointer (&batch->contents, g_ptr_array_unref);
}

static const char *
batch_take (Batch *batch,
            char  *string)
{
  g_ptr_array_add (batch->strings, string);
  return string;
}

/* Messages [@from, @end) of @n_messages. */
static void
batch_fill (Batch      *batch,
            GRand      *rand,
            const char *owner,
            guint       from,
            guint       end,
            guint       n_messages,
            guint       n_conversations,
            gint64      start,
            char      **uris,
            char      **thumbnails)
{
  for (guint i = from; i < end; i++)
    {
      /* Round-robin so each conversation's messages interleave in time. */
      const char *peer = batch_take (batch, g_strdup_printf ("peer%u", i % n_conversations));
      gboolean incoming = g_rand_boolean (rand);
      /* Drawn last word first: the profiles written before stay the same. */
      const char *third = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
      const char *second = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
      const char *first = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
      g_autofree char *text = g_strdup_printf ("%s %s %s #%u", first, second, third, i);
      JsonObject *content = thumbnails != NULL
                              ? natter_content_new_image (thumbnails[i % N_PHOTOS], uris[i % N_PHOTOS])
                              : natter_content_new_text (text);
      NatterImportedMessage message = {
        .conversation_type = NATTER_CONVERSATION_PRIVATE,
        .target_id = peer,
        .message_uid = batch_take (batch, g_strdup_printf ("BNCH-%04X-%04X-%04X", i >> 24,
                                                           (i >> 12) & 0xfff, i & 0xfff)),
        .sender_user_id = incoming ? peer : owner,
        .object_name = thumbnails != NULL ? NATTER_OBJECT_IMAGE : NATTER_OBJECT_TEXT,
        .content = content,
        .direction = incoming ? NATTER_MESSAGE_DIRECTION_RECEIVE : NATTER_MESSAGE_DIRECTION_SEND,
        .sent_status = incoming ? NATTER_SENT_STATUS_READ : NATTER_SENT_STATUS_SENT,
        .sent_time = start + (gint64) i * 1000,
        .received_time = start + (gint64) i * 1000,
        .flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED,
        .unread = i + n_conversations >= n_messages,
      };

      g_ptr_array_add (batch->contents, content);
      g_array_append_val (batch->messages, message);
    }
}

int
natter_cli_generate_profile (NatterCliContext *ctx,
                             int               argc,
                             char            **argv)
{
  int messages = 1000000;
  int conversations = 10000;
  g_autofree char *user = NULL;
  gboolean images = FALSE;
  g_auto(GStrv) thumbnails = NULL;
  g_auto(GStrv) uris = NULL;
  const GOptionEntry entries[] = {
    { "messages", 'm', 0, G_OPTION_ARG_INT, &messages, "Messages (default 1000000)", "N" },
    { "conversations", 'c', 0, G_OPTION_ARG_INT, &conversations, "Conversations (default 10000)", "N" },
    { "owner", 0, 0, G_OPTION_ARG_STRING, &user, "User id of the profile (default \"me\")", "ID" },
    { "images", 0, 0, G_OPTION_ARG_NONE, &images, "Every message a photo with a thumbnail", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("DIR — write a synthetic profile for benchmarks");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterStore) store = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *db_path = NULL;
  const char *owner;
  Batch batch = { NULL };
  gboolean writing = FALSE;
  Wait wait = { NULL };
  GRand *rand;
  gint64 started;
  gint64 start;
  guint done;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 || messages < 0 ||
      conversations < 1)
    {
      g_printerr ("%s: generate-profile DIR [--messages N] [--conversations N] [--owner ID] [--images]\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }
  owner = user != NULL ? user : "me";

  if (g_mkdir_with_parents (argv[1], 0700) != 0)
    {
      g_printerr ("%s: generate-profile: cannot create %s: %s\n", ctx->program, argv[1], g_strerror (errno));
      return NATTER_CLI_EXIT_FAILURE;
    }
  db_path = g_build_filename (argv[1], "natter.db", NULL);
  if (g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_printerr ("%s: generate-profile: %s exists already\n", ctx->program, db_path);
      return NATTER_CLI_EXIT_FAILURE;
    }

  if (images && !make_photos (argv[1], &uris, &thumbnails, &error))
    {
      g_printerr ("%s: generate-profile: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_FAILURE;
    }

  started = g_get_monotonic_time ();
  store = natter_store_new (db_path);
  natter_store_set_value_async (store, "user-id", owner, NULL, wait_cb, &wait);
  result = wait_result (&wait);
  if (!natter_store_set_value_finish (store, result, &error))
    {
      g_printerr ("%s: generate-profile: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_FAILURE;
    }
  g_clear_object (&result);

  /* One message a second, the last one now. The store copies a batch when
   * it is handed over: the next one is built while it is written. */
  start = g_get_real_time () / 1000 - (gint64) messages * 1000;
  rand = g_rand_new_with_seed (42);
  for (done = 0; done < (guint) messages || writing;)
    {
      if (done < (guint) messages)
        {
          guint end = MIN ((guint) messages, done + BATCH);

          batch_init (&batch);
          batch_fill (&batch, rand, owner, done, end, messages, conversations, start, uris, thumbnails);
          done = end;
        }

      if (writing)
        {
          result = wait_result (&wait);
          writing = FALSE;
          if (!natter_store_import_finish (store, result, NULL, &error))
            {
              batch_clear (&batch);
              g_rand_free (rand);
              g_printerr ("%s: generate-profile: %s\n", ctx->program, error->message);
              return NATTER_CLI_EXIT_FAILURE;
            }
          g_clear_object (&result);
        }

      if (batch.messages != NULL)
        {
          natter_store_import_async (store, (NatterImportedMessage *) (gpointer) batch.messages->data,
                                     batch.messages->len, NULL, wait_cb, &wait);
          writing = TRUE;
          batch_clear (&batch);
        }
    }
  g_rand_free (rand);

  natter_store_optimize_async (store, NULL, wait_cb, &wait);
  result = wait_result (&wait);
  if (!natter_store_optimize_finish (store, result, &error))
    {
      g_printerr ("%s: generate-profile: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_FAILURE;
    }

  printf ("%s: %d messages in %d conversations, written in %.1f s\n", argv[1], messages, conversations,
          (g_get_monotonic_time () - started) / 1000000.0);
  return NATTER_CLI_EXIT_OK;
}
