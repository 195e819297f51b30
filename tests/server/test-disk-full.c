/* test-disk-full.c — natterd on a full disk: its data dir is an 8 MiB tmpfs
 * the test mounts (as root, in a mount namespace of its own). Below
 * [store] min-free, and when the disk really fills (min-free 0, SQLITE_FULL),
 * writes are refused with 30002 (1000 on the server API) and one log line,
 * what was acked stays, and writing resumes by itself once the space is
 * back; libnatter keeps a message refused so in its outbox and sends it
 * then.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* unshare () */

#include "natter-test-client.h"

#ifdef HAVE_LIBNATTER
#include "natter.h"
#endif

#include <errno.h>
#include <libsoup/soup.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TMPFS_OPTIONS "size=8m,mode=0700"
#define MIN_FREE (3 * 1024 * 1024)

typedef struct
{
  NatterTestServer *server;
  const char       *data_dir;   /* the tmpfs */
  char             *log_path;   /* natterd's stderr, outside the tmpfs */
  char             *filler;
} Disk;

static gboolean
never (gpointer data)
{
  return FALSE;
}

static guint64
free_bytes (Disk *disk)
{
  struct statvfs info;

  g_assert_cmpint (statvfs (disk->data_dir, &info), ==, 0);
  return (guint64) info.f_bavail * (guint64) info.f_frsize;
}

static void
run (const char * const *argv)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_subprocess_wait_check (process, NULL, &error);
  g_assert_no_error (error);
}

/* natterd (re)started with its stderr in disk->log_path. */
static void
start_logged (Disk *disk)
{
  int saved = dup (STDERR_FILENO);
  int fd = open (disk->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

  g_assert_cmpint (fd, >=, 0);
  dup2 (fd, STDERR_FILENO);
  close (fd);
  natter_test_server_restart (disk->server);
  dup2 (saved, STDERR_FILENO);
  close (saved);
}

/* How many lines of natterd's log are @event (the last one is shown). */
static guint
count_log (Disk       *disk,
           const char *event)
{
  g_autofree char *text = NULL;
  g_autofree char *needle = g_strdup_printf ("event=%s ", event);
  const char *last = NULL;
  guint n = 0;

  if (!g_file_get_contents (disk->log_path, &text, NULL, NULL))
    return 0;
  for (const char *at = strstr (text, needle); at != NULL; at = strstr (at + 1, needle))
    {
      last = at;
      n++;
    }
  if (last != NULL)
    {
      g_autofree char *line = g_strndup (last, strcspn (last, "\n"));

      g_test_message ("%s", line);
    }
  return n;
}

typedef struct {
  Disk       *disk;
  const char *event;
  guint       n;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *w = data;
  return count_log (w->disk, w->event) >= w->n;
}

/* natterd writes its log from a thread of its own: a line may land a
 * moment after what it tells of. */
static guint
wait_log (Disk       *disk,
          const char *event,
          guint       n)
{
  LogWait w = { disk, event, n };

  natter_test_wait (log_has, &w, 5000);
  return count_log (disk, event);
}

/* natterd with its data dir moved onto a fresh 8 MiB tmpfs. */
static Disk *
disk_new (const char *config)
{
  Disk *disk = g_new0 (Disk, 1);
  g_autofree char *backup = g_dir_make_tmp ("natterd-disk-full-XXXXXX", NULL);
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;

  disk->server = natter_test_server_new_full (config, NULL);
  disk->data_dir = natter_test_server_get_data_dir (disk->server);
  disk->log_path = g_build_filename (backup, "natterd.log", NULL);
  disk->filler = g_build_filename (disk->data_dir, "filler", NULL);
  natter_test_server_stop (disk->server);

  from = g_strdup_printf ("%s/.", disk->data_dir);
  to = g_build_filename (backup, "data", NULL);
  run ((const char *[]) { "cp", "-a", from, to, NULL });
  if (mount ("tmpfs", disk->data_dir, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS) != 0)
    g_error ("mount tmpfs on %s: %s", disk->data_dir, g_strerror (errno));
  g_free (from);
  from = g_strdup_printf ("%s/.", to);
  run ((const char *[]) { "cp", "-a", from, disk->data_dir, NULL });
  run ((const char *[]) { "rm", "-rf", to, NULL });

  start_logged (disk);
  g_test_message ("natterd's data dir: an 8 MiB tmpfs, %" G_GUINT64_FORMAT " bytes free", free_bytes (disk));
  return disk;
}

static void
disk_free (Disk *disk)
{
  g_autofree char *log_dir = g_path_get_dirname (disk->log_path);

  natter_test_server_stop (disk->server);
  if (umount (disk->data_dir) != 0)
    g_error ("umount %s: %s", disk->data_dir, g_strerror (errno));
  natter_test_server_free (disk->server);
  g_unlink (disk->log_path);
  g_rmdir (log_dir);
  g_free (disk->log_path);
  g_free (disk->filler);
  g_free (disk);
}

/* A filler file that leaves @leave bytes free (or none: until ENOSPC). */
static void
fill (Disk   *disk,
      guint64 leave)
{
  static const char zeros[64 * 1024];
  int fd = open (disk->filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  guint64 free_now = free_bytes (disk);
  guint64 target = free_now > leave ? free_now - leave : 0;
  guint64 written = 0;

  g_assert_cmpint (fd, >=, 0);
  while (leave == 0 || written < target)
    {
      gsize chunk = leave == 0 ? sizeof zeros : (gsize) MIN ((guint64) sizeof zeros, target - written);
      ssize_t n = write (fd, zeros, chunk);

      if (n < 0 && errno == ENOSPC)
        break;
      g_assert_cmpint (n, >, 0);
      written += (guint64) n;
    }
  g_assert_cmpint (fsync (fd), ==, 0);
  close (fd);
  g_test_message ("filler of %" G_GUINT64_FORMAT " bytes: %" G_GUINT64_FORMAT " bytes free",
                  written, free_bytes (disk));
}

static void
unfill (Disk *disk)
{
  g_assert_cmpint (g_unlink (disk->filler), ==, 0);
}

/* --------------------------------------------------------------- messages */

static NatterFrame *
publish (NatterTestClient *client,
         const char       *client_msg_id,
         const char       *target,
         const char       *content)
{
  natter_test_client_publish_full (client, client_msg_id, 1, target, "RC:TxtMsg", content, 0);
  return natter_test_client_wait_ack (client, client_msg_id);
}

static char *
text_content (const char *text,
              gsize       padding)
{
  g_autofree char *pad = g_strnfill (padding, 'x');

  return g_strdup_printf ("{\"content\":\"%s %s\"}", text, pad);
}

/* Every message @user gets when it connects afresh (last seq 0): what its
 * inbox holds. */
static GHashTable *
replay (NatterTestServer *server,
        const char       *user_id,
        const char       *device_id)
{
  g_autoptr(NatterTestClient) client = natter_test_client_new_user (server, user_id, device_id);
  GHashTable *uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (;;)
    {
      g_autoptr(NatterFrame) frame = natter_test_client_expect (client, NATTER__FRAME__BODY_DELIVER, 2000);

      if (frame == NULL)
        break;
      g_hash_table_add (uids, g_strdup (frame->deliver->message->message_uid));
    }
  return uids;
}

/* The newest @count messages of the private chat, as @client sees them. */
static GHashTable *
history (NatterTestClient *client,
         const char       *target)
{
  GHashTable *uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gint64 before = 0;

  for (;;)
    {
      Natter__Query query = NATTER__QUERY__INIT;
      Natter__HistoryRequest request = NATTER__HISTORY_REQUEST__INIT;
      g_autoptr(NatterFrame) page = NULL;
      Natter__HistoryResult *result;

      request.conversation_type = 1;
      request.target_id = (char *) target;
      request.before_time = before;
      request.count = 20;
      query.method_case = NATTER__QUERY__METHOD_HISTORY;
      query.history = &request;
      page = natter_test_client_query (client, &query);
      g_assert_cmpint (page->result->code, ==, 0);
      result = page->result->history;
      for (gsize i = 0; i < result->n_messages; i++)
        {
          g_hash_table_add (uids, g_strdup (result->messages[i]->message_uid));
          before = result->messages[i]->sent_time;
        }
      if (!result->has_more || result->n_messages == 0)
        break;
    }
  return uids;
}

static void
assert_all_in (GPtrArray  *acked,
               GHashTable *found,
               const char *where)
{
  for (guint i = 0; i < acked->len; i++)
    if (!g_hash_table_contains (found, g_ptr_array_index (acked, i)))
      g_error ("acked message %s missing from %s", (char *) g_ptr_array_index (acked, i), where);
}

static int
join_room (NatterTestClient *client,
           const char       *room)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomJoinRequest request = NATTER__CHATROOM_JOIN_REQUEST__INIT;
  g_autoptr(NatterFrame) result = NULL;

  request.chatroom_id = (char *) room;
  request.count = -1;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &request;
  result = natter_test_client_query (client, &query);
  return result->result->code;
}

static gint64
group_create (NatterTestServer *server,
              const char       *group_id)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice",
                                                        "userId", "bob", "groupId", group_id,
                                                        "groupName", "G", NULL);

  return json_object_get_int_member (reply, "code");
}

static guint
group_size (NatterTestServer *server,
            const char       *group_id)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/user/query", "groupId",
                                                        group_id, NULL);

  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  return json_array_get_length (json_object_get_array_member (reply, "users"));
}

/* -------------------------------------------------------------- libnatter */

#ifdef HAVE_LIBNATTER
typedef struct
{
  NatterClient *client;
  char         *profile;
  GAsyncResult *result;
} Sender;

static gboolean
sender_connected (gpointer data)
{
  return natter_client_get_status (((Sender *) data)->client) == NATTER_CONNECTION_CONNECTED;
}

static gboolean
sender_done (gpointer data)
{
  return ((Sender *) data)->result != NULL;
}

static void
sent_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  ((Sender *) user_data)->result = g_object_ref (result);
}

static Sender *
sender_new (NatterTestServer *server,
            const char       *user_id)
{
  Sender *sender = g_new0 (Sender, 1);
  g_autofree char *token = natter_test_server_get_token (server, user_id);

  sender->profile = g_dir_make_tmp ("natter-disk-full-profile-XXXXXX", NULL);
  sender->client = natter_client_new (natter_test_server_get_url (server),
                                      natter_test_server_get_app_key (server), sender->profile);
  natter_client_connect (sender->client, token);
  g_assert_true (natter_test_wait (sender_connected, sender, NATTER_TEST_TIMEOUT_MS));
  return sender;
}

static void
sender_send (Sender     *sender,
             const char *target,
             const char *text)
{
  g_autoptr(JsonObject) content = json_object_new ();

  json_object_set_string_member (content, "content", text);
  natter_client_send_message_async (sender->client, NATTER_CONVERSATION_PRIVATE, target,
                                    NATTER_OBJECT_TEXT, content, NULL, sent_cb, sender);
}

static guint
outbox_length (Sender *sender)
{
  NatterStore *store = natter_client_get_store (sender->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;

  natter_store_get_outbox_async (store, NULL, (GAsyncReadyCallback) sent_cb, sender);
  g_clear_object (&sender->result);
  g_assert_true (natter_test_wait (sender_done, sender, NATTER_TEST_TIMEOUT_MS));
  result = g_steal_pointer (&sender->result);
  outbox = natter_store_get_outbox_finish (store, result, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < outbox->len; i++)
    g_assert_cmpint (natter_message_get_sent_status (g_ptr_array_index (outbox, i)), ==,
                     NATTER_SENT_STATUS_SENDING);
  return outbox->len;
}

static void
sender_free (Sender *sender)
{
  g_autofree char *rm = g_strdup (sender->profile);

  natter_client_disconnect (sender->client);
  g_object_unref (sender->client);
  g_clear_object (&sender->result);
  run ((const char *[]) { "rm", "-rf", rm, NULL });
  g_free (sender->profile);
  g_free (sender);
}
#endif

/* ------------------------------------------------------------------ tests */

/* Below min-free: every kind of write refused with its code, one log line,
 * reads and acked data intact, and everything back without a restart. */
/* Files under media/ but its tmp/: what uploads left on the disk. */
static guint
count_media_files (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;
  guint count = 0;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_str_equal (name, "tmp"))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        count += count_media_files (path);
      else
        count++;
    }
  return count;
}

/* POST /media/upload with @token: the HTTP status, the reply's code. */
static guint
upload (NatterTestServer *server,
        const char       *token,
        gsize             size,
        int              *code)
{
  g_autofree char *url = g_strdup_printf ("%s/media/upload", natter_test_server_get_url (server));
  g_autofree char *bearer = g_strdup_printf ("Bearer %s", token);
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  g_autoptr(GBytes) body = g_bytes_new_take (g_malloc0 (size), size);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (message), "Authorization", bearer);
  soup_message_set_request_body_from_bytes (message, "application/octet-stream", body);
  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  root = json_from_string (g_bytes_get_data (reply, NULL), &error);
  g_assert_no_error (error);
  *code = (int) json_object_get_int_member (json_node_get_object (root), "code");
  return soup_message_get_status (message);
}

static void
test_min_free (void)
{
  g_autofree char *config = g_strdup_printf ("[store]\nmin-free=%d\n", MIN_FREE);
  Disk *disk = disk_new (config);
  NatterTestServer *server = disk->server;
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(GPtrArray) acked = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) replayed = NULL;
  g_autoptr(GHashTable) in_history = NULL;
  g_autoptr(JsonObject) rooms = NULL;
  g_autofree char *carol_token = NULL;
  g_autofree char *erin_uid = NULL;
  g_autofree char *alice_token = natter_test_server_get_token (server, "alice");
  guint status = 0;
  guint64 refused_before;
#ifdef HAVE_LIBNATTER
  Sender *dave = sender_new (server, "dave");
  g_autoptr(NatterMessage) queued = NULL;
  g_autoptr(GError) error = NULL;
#endif

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *id = g_strdup_printf ("before-%u", i);
      g_autofree char *content = text_content (id, 0);
      g_autoptr(NatterFrame) ack = publish (alice, id, "bob", content);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_ptr_array_add (acked, g_strdup (ack->publish_ack->message_uid));
    }
  g_assert_cmpint (join_room (alice, "room-before"), ==, 0);
  refused_before = natter_test_server_get_metric (server, "natterd_store_refused_total");
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_store_full"), ==, 0);
  g_assert_cmpuint (count_log (disk, "store-full"), ==, 0);

  fill (disk, MIN_FREE / 2);

  /* Client protocol: 30002, again and again, logged once. */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("during-%u", i);
      g_autofree char *content = text_content (id, 0);
      g_autoptr(NatterFrame) ack = publish (alice, id, "bob", content);

      g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_SERVER_ERROR);
      g_assert_true (ack->publish_ack->message_uid == NULL || *ack->publish_ack->message_uid == '\0');
    }
  /* To a user nobody addressed before: refused too (the user's row as
   * well: nothing may name it until it is stored). */
  {
    g_autofree char *content = text_content ("to erin", 0);
    g_autoptr(NatterFrame) ack = publish (alice, "to-erin-1", "erin", content);

    g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_SERVER_ERROR);
  }
  /* A new chatroom is not joined (nor kept in memory). */
  g_assert_cmpint (join_room (alice, "room-during"), ==, NATTER_CODE_SERVER_ERROR);
  /* Server API: 1000, and a new user gets no token. */
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "message/private/publish",
                                                          "fromUserId", "alice", "toUserId", "bob",
                                                          "objectName", "RC:TxtMsg",
                                                          "content", "{\"content\":\"api during\"}", NULL);

    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, NATTER_API_INTERNAL_ERROR);
    g_assert_cmpuint (status, ==, 500);
  }
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "user/getToken",
                                                          "userId", "carol", "name", "Carol", NULL);

    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, NATTER_API_INTERNAL_ERROR);
    g_assert_false (json_object_has_member (reply, "token"));
  }
  /* A new group is not created, in memory either. */
  g_assert_cmpint (group_create (server, "g1"), ==, NATTER_API_INTERNAL_ERROR);
  /* Media: refused before the body is written, nothing left behind. */
  {
    g_autofree char *media_dir = g_build_filename (natter_test_server_get_data_dir (server), "media", NULL);
    guint files = count_media_files (media_dir);
    int code = 0;

    g_assert_cmpuint (upload (server, alice_token, 64 * 1024, &code), ==, 507);
    g_assert_cmpint (code, ==, NATTER_CODE_SERVER_ERROR);
    g_assert_cmpuint (count_media_files (media_dir), ==, files);
  }
#ifdef HAVE_LIBNATTER
  /* libnatter: 30002 is transient, the message stays in the outbox. */
  sender_send (dave, "bob", "kept in the outbox");
  natter_test_wait (never, NULL, 3000);
  g_assert_null (dave->result);
  g_assert_cmpuint (natter_client_get_n_pending (dave->client), ==, 1);
  g_assert_cmpuint (outbox_length (dave), ==, 1);
#endif

  /* Reads go on. */
  in_history = history (bob, "alice");
  assert_all_in (acked, in_history, "history while full");
  g_assert_cmpuint (g_hash_table_size (in_history), ==, acked->len);

  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_store_full"), ==, 1);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_store_refused_total"), >=,
                    refused_before + 8);
  g_assert_cmpuint (wait_log (disk, "store-full", 1), ==, 1);
  g_assert_cmpuint (count_log (disk, "publish-failed"), ==, 0);

  /* Room again: the same natterd takes writes at once. */
  unfill (disk);
  {
    g_autofree char *content = text_content ("during-0", 0);
    g_autoptr(NatterFrame) ack = publish (alice, "during-0", "bob", content);

    g_assert_cmpint (ack->publish_ack->code, ==, 0);
    g_ptr_array_add (acked, g_strdup (ack->publish_ack->message_uid));
  }
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_store_full"), ==, 0);
  g_assert_cmpuint (wait_log (disk, "store-writable", 1), ==, 1);
  g_assert_cmpuint (wait_log (disk, "store-full", 1), ==, 1);
  carol_token = natter_test_server_get_token (server, "carol");
  {
    g_autofree char *content = text_content ("to erin", 0);
    g_autoptr(NatterFrame) ack = publish (alice, "to-erin-2", "erin", content);

    g_assert_cmpint (ack->publish_ack->code, ==, 0);
    erin_uid = g_strdup (ack->publish_ack->message_uid);
  }
  g_assert_cmpint (join_room (alice, "room-during"), ==, 0);
  g_assert_cmpint (group_create (server, "g1"), ==, 200);
  {
    int code = 0;

    g_assert_cmpuint (upload (server, alice_token, 64 * 1024, &code), ==, 200);
    g_assert_cmpint (code, ==, 200);
  }
  g_assert_cmpuint (group_size (server, "g1"), ==, 2);
  rooms = natter_test_server_api (server, &status, "chatroom/query", "chatroomId", "room-during", NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (rooms, "chatRooms")), ==, 1);
#ifdef HAVE_LIBNATTER
  /* The outbox goes by itself (retried every 2 s). */
  g_assert_true (natter_test_wait (sender_done, dave, 20000));
  {
    g_autoptr(GAsyncResult) result = g_steal_pointer (&dave->result);

    queued = natter_client_send_message_finish (dave->client, result, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpint (natter_message_get_sent_status (queued), ==, NATTER_SENT_STATUS_SENT);
  g_assert_nonnull (natter_message_get_message_uid (queued));
  g_assert_cmpuint (natter_client_get_n_pending (dave->client), ==, 0);
  g_assert_cmpuint (outbox_length (dave), ==, 0);
  sender_free (dave);
#endif

  /* Everything acked is there, for good: after a restart too. */
  natter_test_server_stop (server);
  start_logged (disk);
  replayed = replay (server, "bob", "b2");
  assert_all_in (acked, replayed, "bob's inbox after a restart");
#ifdef HAVE_LIBNATTER
  g_assert_true (g_hash_table_contains (replayed, natter_message_get_message_uid (queued)));
#endif
  g_assert_cmpuint (wait_log (disk, "store-full", 1), ==, 1);
  g_assert_cmpuint (group_size (server, "g1"), ==, 2);
  /* erin's row went with the message that named her first. */
  {
    g_autoptr(GHashTable) erins = replay (server, "erin", "e1");

    g_assert_true (g_hash_table_contains (erins, erin_uid));
  }

  g_clear_pointer (&alice, natter_test_client_free);
  g_clear_pointer (&bob, natter_test_client_free);
  disk_free (disk);
}

/* min-free 0: the disk really fills up. SQLite fails with SQLITE_FULL; the
 * batch is refused with 30002, one log line, and the next write is tried a
 * second later; what was acked before stays. */
static void
test_disk_really_full (void)
{
  Disk *disk = disk_new ("[store]\nmin-free=0\n");
  NatterTestServer *server = disk->server;
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(GPtrArray) acked = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) replayed = NULL;
  g_autoptr(GHashTable) in_history = NULL;
  guint refused = 0;

  fill (disk, 1024 * 1024);

  /* 100 KiB messages until the disk says no. */
  for (guint i = 0; i < 100 && refused == 0; i++)
    {
      g_autofree char *id = g_strdup_printf ("big-%u", i);
      g_autofree char *content = text_content (id, 100 * 1024);
      g_autoptr(NatterFrame) ack = publish (alice, id, "bob", content);

      if (ack->publish_ack->code == 0)
        g_ptr_array_add (acked, g_strdup (ack->publish_ack->message_uid));
      else
        {
          g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_SERVER_ERROR);
          refused++;
        }
    }
  g_test_message ("%u messages of 100 KiB acked before the disk was full", acked->len);
  g_assert_cmpuint (refused, ==, 1);
  g_assert_cmpuint (acked->len, >, 0);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_store_full"), ==, 1);

  /* Still full: refused without a second log line. */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("small-%u", i);
      g_autofree char *content = text_content (id, 100 * 1024);
      g_autoptr(NatterFrame) ack = publish (alice, id, "bob", content);

      g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_SERVER_ERROR);
      natter_test_wait (never, NULL, 300);
    }
  g_assert_cmpuint (wait_log (disk, "store-full", 1), ==, 1);
  g_assert_cmpuint (count_log (disk, "publish-failed"), ==, 0);

  in_history = history (bob, "alice");
  assert_all_in (acked, in_history, "history while full");

  /* Room again: within the second's retry, without a restart. */
  unfill (disk);
  natter_test_wait (never, NULL, 1200);
  {
    g_autofree char *content = text_content ("after", 10);
    g_autoptr(NatterFrame) ack = publish (alice, "after", "bob", content);

    g_assert_cmpint (ack->publish_ack->code, ==, 0);
    g_ptr_array_add (acked, g_strdup (ack->publish_ack->message_uid));
  }
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_store_full"), ==, 0);
  g_assert_cmpuint (wait_log (disk, "store-writable", 1), ==, 1);

  natter_test_server_stop (server);
  start_logged (disk);
  replayed = replay (server, "bob", "b2");
  assert_all_in (acked, replayed, "bob's inbox after a restart");
  g_assert_cmpuint (g_hash_table_size (replayed), ==, acked->len);

  g_clear_pointer (&alice, natter_test_client_free);
  g_clear_pointer (&bob, natter_test_client_free);
  disk_free (disk);
}

/* GET /healthz: the HTTP status; the reply's code and reason (or NULL). */
static guint
healthz (NatterTestServer *server,
         gint64           *code,
         char            **reason)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/healthz", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;

  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  *code = json_object_get_int_member (object, "code");
  *reason = g_strdup (json_object_get_string_member_with_default (object, "reason", NULL));
  g_test_message ("/healthz: %u %s", soup_message_get_status (message), (char *) g_bytes_get_data (body, NULL));
  return soup_message_get_status (message);
}

/* /healthz answers 503 (30002, the store's reason) while writes are
 * refused for want of space, at once, and 200 again once there is room. */
static void
test_healthz (void)
{
  g_autofree char *config = g_strdup_printf ("[store]\nmin-free=%d\n", MIN_FREE);
  Disk *disk = disk_new (config);
  g_autofree char *reason = NULL;
  gint64 code = 0;

  g_assert_cmpuint (healthz (disk->server, &code, &reason), ==, 200);
  g_assert_cmpint (code, ==, 200);
  g_assert_null (reason);

  fill (disk, MIN_FREE / 2);
  g_assert_cmpuint (healthz (disk->server, &code, &reason), ==, 503);
  g_assert_cmpint (code, ==, NATTER_CODE_SERVER_ERROR);
  g_assert_true (g_str_has_prefix (reason, "store: "));
  g_assert_nonnull (strstr (reason, "min-free"));
  g_clear_pointer (&reason, g_free);
  /* Still so while it lasts. */
  g_assert_cmpuint (healthz (disk->server, &code, &reason), ==, 503);
  g_clear_pointer (&reason, g_free);

  unfill (disk);
  g_assert_cmpuint (healthz (disk->server, &code, &reason), ==, 200);
  g_assert_cmpint (code, ==, 200);
  g_assert_null (reason);

  disk_free (disk);
}

int
main (int   argc,
      char *argv[])
{
  /* Before any thread: the whole process (and natterd, its child) gets a
   * mount namespace of its own, so the tmpfs is nobody else's business. */
  if (geteuid () != 0)
    g_error ("test-disk-full mounts a tmpfs for natterd's data and must run as root (CI does); "
             "it does not skip");
  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    g_error ("a private mount namespace: %s", g_strerror (errno));

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/disk-full/min-free", test_min_free);
  g_test_add_func ("/server/disk-full/disk-really-full", test_disk_really_full);
  g_test_add_func ("/server/disk-full/healthz", test_healthz);

  return g_test_run ();
}
