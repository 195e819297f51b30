/* natterd-bench-writer.c — the SQLite writer's cost a message, by itself
 * (#17): natter-bench's closed loop as the store sees it (private
 * messages of PAIRS sender → receiver pairs, 64-byte bodies, client_msg_ids
 * b1, b2, … per sender, a receiver's inbox entry and both sides'
 * conversation rows), written in batches of BATCH ops straight through the
 * store's write(), on this thread. BEFORE messages first fill the
 * database (the indexes' depth and locality are a large database's), then
 * MESSAGES are measured. Under callgrind (build-aux/bench-writer) only the
 * measured writes are collected; the program itself prints the WAL pages
 * (frames) and bytes a message and the wall time, which a loaded machine
 * moves.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#ifdef HAVE_CALLGRIND
#include <callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include "natter-codes.h"
#include "natter-object-names.h"
#include "natterd-store-sqlite-private.h"

#define USERS_BASE 1

static int pairs = 100;
static int batch = 200;
static int before = 100000;
static int messages = 20000;
static char *dir_arg;

static const GOptionEntry entries[] = {
  { "pairs", 0, 0, G_OPTION_ARG_INT, &pairs, "Sender → receiver pairs (default 100)", "N" },
  { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Messages a transaction (default 200)", "N" },
  { "before", 0, 0, G_OPTION_ARG_INT, &before, "Messages written first, not measured (default 100000)", "N" },
  { "messages", 0, 0, G_OPTION_ARG_INT, &messages, "Messages measured (default 20000)", "N" },
  { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_arg, "Data directory (default: a new one in /tmp, removed)", "DIR" },
  { NULL }
};

static gboolean
write_ops (NatterdStore  *store,
           GPtrArray     *ops,
           gboolean       measured)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (measured)
    CALLGRIND_TOGGLE_COLLECT;
  ok = NATTERD_STORE_GET_CLASS (store)->write (store, (NatterdOp **) ops->pdata, ops->len, &error);
  if (measured)
    CALLGRIND_TOGGLE_COLLECT;
  if (!ok)
    g_printerr ("natterd-bench-writer: %s\n", error->message);
  g_ptr_array_set_size (ops, 0);
  return ok;
}

static NatterdPublishOp *
publish_op (int     pair,
            guint64 n,
            gint64  sent_time)
{
  NatterdPublishOp *op = natterd_op_new (NATTERD_OP_PUBLISH, NULL, NULL, NULL);
  g_autofree char *sender = g_strdup_printf ("u%d", pair);
  g_autofree char *receiver = g_strdup_printf ("u%d", pairs + pair);
  g_autofree char *device = g_strdup_printf ("bench-%s", sender);
  g_autofree char *id = g_strdup_printf ("b%" G_GUINT64_FORMAT, n);
  g_autofree char *content = g_strdup_printf ("{\"content\":\"t=%020" G_GINT64_FORMAT " %s\"}", sent_time * 1000,
                                              "natter-bench payload padding padding padding padding");
  NatterdRecipient to = {
    .user_id = USERS_BASE + pairs + pair, .inbox = TRUE, .conversation = TRUE, .counted = TRUE,
  };
  NatterdRecipient from = { .user_id = USERS_BASE + pair, .conversation = TRUE };

  natterd_publish_op_set_strings (op, device, id, sender, receiver, NATTER_OBJECT_TEXT, content, NULL);
  op->app_id = 1;
  op->sender_id = USERS_BASE + pair;
  op->channel = g_strdup_printf ("1:1:%s:%s", sender, receiver);
  op->message.conversation_type = NATTER_CONVERSATION_PRIVATE;
  op->message.flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED;
  op->message.sent_time = sent_time;
  /* Target ids point into the op, as the router's do. */
  to.target_id = op->message.sender_user_id;
  from.target_id = op->message.target_id;
  g_array_append_val (op->recipients, to);
  g_array_append_val (op->recipients, from);
  return op;
}

/* WAL frames written since the last call (the WAL starting over counts
 * its new frames only). */
static gint64
frames_written (NatterdStoreSqlite *self,
                gint64             *last)
{
  gint64 now = g_atomic_int_get (&self->wal_frames);
  gint64 written = now >= *last ? now - *last : now;

  *last = now;
  return written;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— the SQLite writer's cost a message");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = NULL;
  g_autoptr(GPtrArray) ops = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_op_free);
  g_autofree char *dir = NULL;
  NatterdStoreSqlite *sqlite;
  guint64 *next_ids;
  gint64 sent_time = 1700000000000, last_frames = 0, frames = 0, started = 0, page_size = 4096;
  int commits = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || pairs < 1 || batch < 1)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "bad option");
      return 2;
    }
  dir = dir_arg != NULL ? g_strdup (dir_arg) : g_dir_make_tmp ("natterd-bench-writer-XXXXXX", &error);
  if (dir == NULL || (store = natterd_store_sqlite_open (dir, &error)) == NULL)
    {
      g_printerr ("natterd-bench-writer: %s\n", error->message);
      return 1;
    }
  sqlite = NATTERD_STORE_SQLITE (store);

  for (int u = 0; u < 2 * pairs; u++)
    {
      NatterdUserOp *op = natterd_op_new (NATTERD_OP_USER, NULL, NULL, NULL);

      op->id = USERS_BASE + u;
      op->app_id = 1;
      op->user_id = g_strdup_printf ("u%d", u);
      op->created = sent_time;
      op->create = TRUE;
      g_ptr_array_add (ops, op);
    }
  if (!write_ops (store, ops, FALSE))
    return 1;

  next_ids = g_new0 (guint64, pairs);
  for (int i = 0; i < before + messages; i++)
    {
      int pair = i % pairs;
      gboolean measured = i >= before;

      if (i == before)
        {
          frames_written (sqlite, &last_frames);
          started = g_get_monotonic_time ();
        }
      g_ptr_array_add (ops, publish_op (pair, ++next_ids[pair], sent_time++));
      if (ops->len == (guint) batch || i == before + messages - 1 || i == before - 1)
        {
          if (!write_ops (store, ops, measured))
            return 1;
          /* The store's sync thread is not running: sync as it would. */
          if (!natterd_sqlite_wal_sync (sqlite->full_path, &error))
            {
              g_printerr ("natterd-bench-writer: %s\n", error->message);
              return 1;
            }
          if (measured)
            {
              frames += frames_written (sqlite, &last_frames);
              commits++;
            }
          else
            frames_written (sqlite, &last_frames);
        }
    }

  {
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2 (sqlite->db, "PRAGMA page_size", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step (stmt) == SQLITE_ROW)
      page_size = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
  }
  g_print ("natterd-bench-writer: %d messages measured after %d, %d pairs, %d a commit (%d commits), "
           "page size %" G_GINT64_FORMAT "\n", messages, before, pairs, batch, commits, page_size);
  g_print ("  a message: %.2f WAL frames, %.0f WAL bytes, %.2f us of wall time (the load moves it)\n",
           (double) frames / messages, (double) frames * (page_size + 24) / messages,
           (double) (g_get_monotonic_time () - started) / messages);

  g_clear_object (&store);
  g_free (next_ids);
  if (dir_arg == NULL)
    {
      g_autofree char *db = g_build_filename (dir, "natterd.db", NULL);

      g_remove (db);
      g_rmdir (dir);
    }
  return 0;
}
