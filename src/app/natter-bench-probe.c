/* natter-bench-probe.c — figures for the app benchmark
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natter-bench-probe.h"
#include "natter-window.h"

#define OPEN_AFTER_MS 1500

typedef enum {
  WAIT_FIRST_FRAME,
  WAIT_LIST,
  WAIT_LIST_FRAME,
  WAIT_USER,
  WAIT_CHAT,
  DONE,
} Stage;

typedef struct {
  NatterWindow *window;
  Stage stage;
  double start_ms;          /* process start, CLOCK_BOOTTIME ms */
  double first_frame_ms;
  double list_frame_ms;
  double open_start_ms;
  double open_start_cpu_ms;   /* this (the main) thread's CPU time */
  double open_chat_ms;
  double open_chat_cpu_ms;
  guint conversations;
  guint messages;
  long list_rss_kib;
  long list_heap_kib;       /* malloc'd bytes in use then */
  long settled_rss_kib;     /* when the chat is clicked, the list still on screen */
  GArray *next_opens;       /* ms of the chats opened after the first */
  guint next_count;
  gulong paint_id;
} Probe;

static double
boottime_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* When this process started, from /proc/self/stat (field 22, in ticks since boot). */
static double
process_start_ms (void)
{
  g_autofree char *stat = NULL;
  const char *p;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL) ||
      (p = strrchr (stat, ')')) == NULL)
    return boottime_ms ();
  p += 2;
  /* fields 3.. after the command name; starttime is field 22 */
  for (int field = 3; field < 22 && p != NULL; field++)
    {
      p = strchr (p, ' ');
      if (p != NULL)
        p++;
    }
  if (p == NULL)
    return boottime_ms ();
  return g_ascii_strtoull (p, NULL, 10) * 1000.0 / ticks;
}

static long
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, "VmRSS:")) == NULL)
    return 0;
  return strtol (line + 6, NULL, 10);
}

static long
heap_kib (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return (long) ((info.uordblks + info.hblkhd) / 1024);
}

/* CPU time of the calling thread: what opening a chat costs the main
 * thread, whatever else the machine runs meanwhile. */
static double
thread_cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
finish (Probe *probe)
{
  double next_median = 0;

  if (probe->next_opens->len > 0)
    {
      g_array_sort (probe->next_opens, compare_double);
      next_median = g_array_index (probe->next_opens, double, probe->next_opens->len / 2);
    }
  probe->stage = DONE;
  printf ("{\"firstFrameMs\":%.1f,\"conversationListFrameMs\":%.1f,\"conversations\":%u,"
          "\"listRssKiB\":%ld,\"listHeapKiB\":%ld,\"settledRssKiB\":%ld,\"openChatMs\":%.1f,\"openChatCpuMs\":%.1f,\"messagesShown\":%u,"
          "\"nextChatsMedianMs\":%.1f,\"nextChats\":%u,\"rssKiB\":%ld}\n",
          probe->first_frame_ms, probe->list_frame_ms, probe->conversations, probe->list_rss_kib,
          probe->list_heap_kib, probe->settled_rss_kib, probe->open_chat_ms, probe->open_chat_cpu_ms, probe->messages, next_median, probe->next_opens->len, rss_kib ());
  fflush (stdout);
  g_application_quit (g_application_get_default ());
}

static void
start_open (Probe *probe)
{
  const char *open = g_getenv ("NATTER_APP_BENCH_OPEN");
  g_auto(GStrv) parts = open != NULL ? g_strsplit (open, ":", 2) : NULL;

  if (parts == NULL || parts[0] == NULL || parts[1] == NULL)
    {
      finish (probe);
      return;
    }
  probe->settled_rss_kib = rss_kib ();
  probe->stage = WAIT_CHAT;
  probe->open_start_ms = boottime_ms ();
  probe->open_start_cpu_ms = thread_cpu_ms ();
  natter_window_open_conversation (probe->window, atoi (parts[0]), parts[1], 0);
}

static void
open_timeout_cb (gpointer user_data)
{
  Probe *probe = user_data;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (probe->window));

  start_open (probe);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

static void
after_paint_cb (GdkFrameClock *clock,
                Probe         *probe)
{
  NatterConversationList *list;
  NatterMessageList *messages;

  switch (probe->stage)
    {
    case WAIT_FIRST_FRAME:
      probe->first_frame_ms = boottime_ms () - probe->start_ms;
      probe->stage = WAIT_LIST;
      G_GNUC_FALLTHROUGH;
    case WAIT_LIST:
      list = natter_sidebar_get_conversations (natter_window_get_sidebar (probe->window));
      if (list != NULL && !natter_conversation_list_get_loading (list))
        {
          probe->conversations = g_list_model_get_n_items (G_LIST_MODEL (list));
          probe->stage = WAIT_LIST_FRAME;
        }
      gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
      break;
    case WAIT_LIST_FRAME:
      /* this frame drew the list */
      probe->list_frame_ms = boottime_ms () - probe->start_ms;
      probe->list_rss_kib = rss_kib ();
      probe->list_heap_kib = heap_kib ();
      probe->stage = WAIT_USER;
      /* a person clicks a chat a moment later, once the app has settled */
      g_timeout_add_once (OPEN_AFTER_MS, open_timeout_cb, probe);
      break;
    case WAIT_USER:
      break;
    case WAIT_CHAT:
      messages = natter_chat_view_get_messages (natter_window_get_chat_view (probe->window));
      /* the store's answer comes between frames: when the messages are in
       * the model at the end of a frame, that frame laid out and drew them */
      if (messages != NULL && g_list_model_get_n_items (G_LIST_MODEL (messages)) > 0)
        {
          double ms = boottime_ms () - probe->open_start_ms;

          if (probe->messages == 0)
            {
              probe->messages = g_list_model_get_n_items (G_LIST_MODEL (messages));
              probe->open_chat_ms = ms;
              probe->open_chat_cpu_ms = thread_cpu_ms () - probe->open_start_cpu_ms;
            }
          else
            g_array_append_val (probe->next_opens, ms);

          /* NATTER_APP_BENCH_NEXT=N: then N other chats of the list, one per frame */
          if (probe->next_opens->len < probe->next_count)
            {
              GListModel *all = G_LIST_MODEL (natter_sidebar_get_conversations (natter_window_get_sidebar (probe->window)));
              guint n = g_list_model_get_n_items (all);
              g_autoptr(NatterConversation) next = g_list_model_get_item (all,
                                                                          (probe->next_opens->len + 1) % MAX (n, 1));

              if (next != NULL)
                {
                  probe->open_start_ms = boottime_ms ();
                  natter_window_open_conversation (probe->window,
                                                   natter_conversation_get_conversation_type (next),
                                                   natter_conversation_get_target_id (next), 0);
                  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
                  break;
                }
            }
          finish (probe);
          break;
        }
      gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
      break;
    case DONE:
    default:
      break;
    }
}

static void
realize_cb (GtkWidget *widget,
            Probe     *probe)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  probe->paint_id = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), probe);
}

static void
probe_free (Probe *probe)
{
  g_array_unref (probe->next_opens);
  g_free (probe);
}

void
natter_bench_probe_attach (NatterWindow *window)
{
  Probe *probe;

  if (g_strcmp0 (g_getenv ("NATTER_APP_BENCH"), "1") != 0)
    return;

  probe = g_new0 (Probe, 1);
  probe->window = window;
  probe->start_ms = process_start_ms ();
  g_signal_connect (window, "realize", G_CALLBACK (realize_cb), probe);
  probe->next_opens = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_count = (guint) g_ascii_strtoull (g_getenv ("NATTER_APP_BENCH_NEXT") ? g_getenv ("NATTER_APP_BENCH_NEXT") : "0", NULL, 10);
  g_object_set_data_full (G_OBJECT (window), "natter-bench-probe", probe, (GDestroyNotify) probe_free);
}
