/* natter-cli-bench.c — the store's timings on a large profile
 *
 * natter-cli bench --profile DIR   (make DIR with generate-profile,
 *                                   natter-cli-generate.c)
 *
 * The figures are what the app feels: opening the profile and filling the
 * conversation list model, the newest page of a conversation, one older
 * page, a full-text search, and the process RSS afterwards.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-cli.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  GAsyncResult *result;
} Wait;

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

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

static gint64
status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, field);
  if (line == NULL)
    return 0;
  return g_ascii_strtoll (line + strlen (field) + 1, NULL, 10);
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
summarize (const char *name,
           GArray     *samples,
           JsonBuilder *builder)
{
  double sum = 0, median, p95, max;

  g_array_sort (samples, compare_double);
  for (guint i = 0; i < samples->len; i++)
    sum += g_array_index (samples, double, i);
  median = g_array_index (samples, double, samples->len / 2);
  p95 = g_array_index (samples, double, MIN (samples->len - 1, samples->len * 95 / 100));
  max = g_array_index (samples, double, samples->len - 1);

  printf ("%-28s median %7.3f ms   p95 %7.3f ms   max %7.3f ms   mean %7.3f ms   (n=%u)\n",
          name, median, p95, max, sum / samples->len, samples->len);

  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "medianMs");
  json_builder_add_double_value (builder, median);
  json_builder_set_member_name (builder, "p95Ms");
  json_builder_add_double_value (builder, p95);
  json_builder_set_member_name (builder, "maxMs");
  json_builder_add_double_value (builder, max);
  json_builder_end_object (builder);
}

typedef struct {
  gint64 start;
  double ms;          /* to the end of the loading: the first page */
  gboolean seen;
} FirstPage;

static void
loading_changed_cb (GObject    *object,
                    GParamSpec *pspec,
                    gpointer    user_data)
{
  FirstPage *first_page = user_data;

  if (!natter_conversation_list_get_loading (NATTER_CONVERSATION_LIST (object)) && !first_page->seen)
    {
      first_page->ms = ms_since (first_page->start);
      first_page->seen = TRUE;
    }
}

int
natter_cli_bench (NatterCliContext *ctx,
                  int               argc,
                  char            **argv)
{
  int pages = 200;
  const GOptionEntry entries[] = {
    { "pages", 0, 0, G_OPTION_ARG_INT, &pages, "Conversations to page through (default 200)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("— time the store on a profile (--profile DIR)");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterClient) client = NULL;
  g_autoptr(NatterConversationList) list = NULL;
  g_autoptr(GArray) newest = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) older = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *db_path = NULL;
  const char * const queries[] = { "meeting", "coffee tomorrow", "会议", "rel" };
  FirstPage first_page = { 0 };
  gint64 start;
  gint64 heap_before;
  double open_ms, list_kib;
  guint n_conversations;
  GRand *rand;
  Wait wait = { NULL };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 1 || ctx->profile_dir == NULL ||
      pages < 1)
    {
      g_printerr ("%s: bench --profile DIR [--pages N] (make DIR with generate-profile)\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  db_path = g_build_filename (ctx->profile_dir, "natter.db", NULL);
  if (!g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_printerr ("%s: bench: %s does not exist (natter-cli generate-profile %s)\n", ctx->program,
                  db_path, ctx->profile_dir);
      return NATTER_CLI_EXIT_USAGE;
    }

  printf ("profile %s, RSS before opening %" G_GINT64_FORMAT " KiB\n", ctx->profile_dir, status_kib ("VmRSS:"));

  /* 1. What the app does at start: open the profile, fill the list model. */
  heap_before = (gint64) mallinfo2 ().uordblks;
  start = g_get_monotonic_time ();
  client = natter_client_new ("http://127.0.0.1:1", "bench", ctx->profile_dir);
  list = natter_conversation_list_new (client);
  first_page.start = start;
  g_signal_connect (list, "notify::loading", G_CALLBACK (loading_changed_cb), &first_page);
  /* the whole list, not only its first page (what the app shows first) */
  while (!natter_conversation_list_get_complete (list))
    g_main_context_iteration (NULL, TRUE);
  open_ms = ms_since (start);
  n_conversations = g_list_model_get_n_items (G_LIST_MODEL (list));
  /* what the model and the store hold for it (SQLite's page cache included) */
  list_kib = ((gint64) mallinfo2 ().uordblks - heap_before) / 1024.0;
  printf ("%-28s %7.1f ms   (%u conversations)\n", "open + conversation list", open_ms, n_conversations);
  printf ("%-28s %7.1f ms\n", "  of which the first page", first_page.ms);
  printf ("%-28s %7.0f KiB  (%.0f bytes a conversation; RSS now %" G_GINT64_FORMAT " KiB)\n",
          "heap held by the list", list_kib, n_conversations > 0 ? list_kib * 1024 / n_conversations : 0,
          status_kib ("VmRSS:"));

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "openAndConversationListMs");
  json_builder_add_double_value (builder, open_ms);
  json_builder_set_member_name (builder, "firstPageMs");
  json_builder_add_double_value (builder, first_page.ms);
  json_builder_set_member_name (builder, "conversations");
  json_builder_add_int_value (builder, n_conversations);
  json_builder_set_member_name (builder, "listHeapKiB");
  json_builder_add_double_value (builder, list_kib);

  if (n_conversations == 0)
    {
      g_printerr ("%s: bench: the profile has no conversations\n", ctx->program);
      return NATTER_CLI_EXIT_FAILURE;
    }

  /* 2./3. The newest page of random conversations, then one page older. */
  rand = g_rand_new_with_seed (7);
  for (int i = 0; i < pages; i++)
    {
      g_autoptr(NatterConversation) conversation =
        g_list_model_get_item (G_LIST_MODEL (list), g_rand_int_range (rand, 0, n_conversations));
      NatterStore *store = natter_client_get_store (client);
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GPtrArray) page = NULL;
      g_autoptr(GPtrArray) page2 = NULL;
      NatterMessage *first;

      start = g_get_monotonic_time ();
      natter_store_get_messages_async (store, natter_conversation_get_conversation_type (conversation),
                                       natter_conversation_get_target_id (conversation), 0, 0,
                                       NATTER_MESSAGE_LIST_PAGE_SIZE, NULL, wait_cb, &wait);
      result = wait_result (&wait);
      page = natter_store_get_messages_finish (store, result, &error);
      g_array_append_vals (newest, (double[]) { ms_since (start) }, 1);
      if (page == NULL || page->len == 0)
        {
          g_printerr ("%s: bench: %s\n", ctx->program, error ? error->message : "empty conversation");
          g_rand_free (rand);
          return NATTER_CLI_EXIT_FAILURE;
        }

      first = g_ptr_array_index (page, 0);
      g_clear_object (&result);
      start = g_get_monotonic_time ();
      natter_store_get_messages_async (store, natter_conversation_get_conversation_type (conversation),
                                       natter_conversation_get_target_id (conversation),
                                       natter_message_get_sent_time (first),
                                       natter_message_get_message_id (first),
                                       NATTER_MESSAGE_LIST_PAGE_SIZE, NULL, wait_cb, &wait);
      result = wait_result (&wait);
      page2 = natter_store_get_messages_finish (store, result, &error);
      g_array_append_vals (older, (double[]) { ms_since (start) }, 1);
      if (page2 == NULL)
        {
          g_printerr ("%s: bench: %s\n", ctx->program, error->message);
          g_rand_free (rand);
          return NATTER_CLI_EXIT_FAILURE;
        }
    }
  g_rand_free (rand);
  summarize ("newest page (20)", newest, builder);
  summarize ("load_older page (20)", older, builder);

  /* 4. Full-text search, 50 results, newest first. */
  json_builder_set_member_name (builder, "search");
  json_builder_begin_object (builder);
  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
      g_autofree char *name = g_strdup_printf ("search \"%s\"", queries[q]);
      guint found = 0;

      for (int i = 0; i < 10; i++)
        {
          g_autoptr(GAsyncResult) result = NULL;
          g_autoptr(GPtrArray) messages = NULL;

          start = g_get_monotonic_time ();
          natter_store_search_async (natter_client_get_store (client), queries[q], 0, NULL, 50, NULL,
                                     wait_cb, &wait);
          result = wait_result (&wait);
          messages = natter_store_search_finish (natter_client_get_store (client), result, &error);
          g_array_append_vals (samples, (double[]) { ms_since (start) }, 1);
          if (messages == NULL)
            {
              g_printerr ("%s: bench: %s\n", ctx->program, error->message);
              return NATTER_CLI_EXIT_FAILURE;
            }
          found = messages->len;
        }
      printf ("  (%u results) ", found);
      summarize (name, samples, builder);
    }
  json_builder_end_object (builder);

  /* 5. Memory with everything above still held. */
  printf ("%-28s %" G_GINT64_FORMAT " KiB (peak %" G_GINT64_FORMAT " KiB)\n", "RSS",
          status_kib ("VmRSS:"), status_kib ("VmHWM:"));
  json_builder_set_member_name (builder, "rssKiB");
  json_builder_add_int_value (builder, status_kib ("VmRSS:"));
  json_builder_set_member_name (builder, "peakRssKiB");
  json_builder_add_int_value (builder, status_kib ("VmHWM:"));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  natter_cli_print_json (root);
  return NATTER_CLI_EXIT_OK;
}
