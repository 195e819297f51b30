/* natter-bench-probe.c — figures for the app benchmark
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* struct ucred */

#include <malloc.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natter-bench-clock.h"
#include "natter-bench-probe.h"
#include "natter-damage-meter.h"
#include "natter-message-row.h"
#include "natter-sign-in-page.h"
#include "natter-thumbnail-cache.h"
#include "natter-window.h"

#ifdef GDK_WINDOWING_X11
#include <gdk/x11/gdkx.h>
#endif

#define OPEN_AFTER_MS 1500
#define SETTLE_MS     5000      /* the RSS target's "5 s after the map" */
#define SCROLL_SPEED  12000.0   /* px/s, a fast fling (a photo row a frame at 60 fps), unless NATTER_APP_BENCH_SCROLL_SPEED */
#define SCROLL_MAX_MS 60000

typedef enum {
  WAIT_FIRST_FRAME,
  WAIT_LIST,
  WAIT_LIST_FRAME,
  WAIT_USER,
  WAIT_CHAT,
  SCROLL,
  DONE,
} Stage;

/* One interval of the fling, tick to tick, for the frame log (#17): the
 * frame it began with (its phases, the rows bound in them) and what the
 * main thread did after that frame's paint until the next tick. */
typedef struct {
  double interval;          /* ms, the frame clock's */
  double run, wait, xserver;  /* ms, the schedulers' counters */
  double update, layout, paint;  /* the frame's phases, main-thread CPU ms */
  double between;           /* main-thread CPU ms from its paint to the next tick */
  guint binds_in_phases;    /* rows bound in its phases */
  guint binds;              /* rows bound, tick to tick */
  guint setups;             /* row widgets made, tick to tick */
  guint decoded;            /* thumbnails decoded (arrived), tick to tick */
  guint messages;           /* messages loaded (older pages), tick to tick */
  double pages;             /* main-thread CPU ms in their items-changed (the rows bound again) */
  double scroll;            /* main-thread CPU ms in the next tick's move of the adjustment */
} FrameRecord;

typedef struct {
  NatterWindow *window;
  Stage stage;
  double start_ms;          /* process start, CLOCK_BOOTTIME ms */
  double map_ms;
  double map_cpu_ms;         /* the main thread's CPU time from exec to the map */
  gboolean map_sign_in_page; /* the window had made them at the map */
  gboolean map_chat_view;
  gboolean map_call_module;  /* the call module or its GStreamer libraries loaded by then */
  double first_frame_ms;
  double list_frame_ms;
  double first_frame_cpu_ms;  /* the main thread's CPU time from exec to it */
  gboolean first_frame_has_list;  /* the list was in before the first frame began */
  double list_frame_cpu_ms;
  guint list_frame_shown;     /* conversations its list view had then */
  double open_start_ms;
  double open_start_cpu_ms;   /* this (the main) thread's CPU time */
  double open_chat_ms;
  double open_chat_cpu_ms;
  guint conversations;
  guint messages;
  long list_rss_kib;
  long list_heap_kib;       /* malloc'd bytes in use then */
  long settled_rss_kib;     /* 5 s after the map, when the chat is clicked */
  gboolean settled_librsvg;  /* librsvg mapped then */
  gboolean settled_gl;       /* a GL driver mapped then */
  gboolean settled_call;     /* GStreamer plugins mapped then */
  gboolean settled_ice;      /* libnice, GnuTLS mapped then */
  /* NATTER_APP_BENCH_SCROLL=1: then up through the whole chat, by the frame clock */
  gboolean scroll;
  double scroll_speed;
  guint scroll_until;       /* stop at the top once this many messages are loaded (0: at the store's end) */
  gint64 scroll_start_us;
  double scroll_start_cpu_ms;  /* the main thread's CPU time then */
  double scroll_cpu_ms;        /* and over the scroll */
  double scroll_start_process_cpu_ms;
  double scroll_process_cpu_ms;  /* all threads' */
  gint64 last_frame_us;     /* the frame clock's time of the previous scrolled frame */
  gint64 paint_start_us;    /* this frame's before-paint, monotonic */
  GArray *intervals;        /* ms between scrolled frames */
  GArray *work;             /* ms from before-paint to after-paint of each */
  /* the main thread's CPU time in the frame clock's phases of each
   * scrolled frame (#17): update (the fling's tick, the rows bound as the
   * list view moves), layout (CSS, measure, allocate), paint (snapshot and
   * the renderer); CPU, not wall-clock, so a loaded box does not move it */
  double paint_start_cpu_ms;
  double update_end_cpu_ms;
  double layout_end_cpu_ms;
  double paint_end_cpu_ms;
  GArray *phase_update;
  GArray *phase_layout;
  GArray *phase_paint;
  /* where each scrolled frame's interval went (#17): the main thread on a
   * core, the main thread runnable but waiting for one (the box's load),
   * the X server on a core (Xvfb draws what we send on the same cores),
   * from the schedulers' counters, ns, read at each tick */
  int xserver_pid;          /* the X connection's peer, 0 if unknown */
  gint64 last_tick_us;      /* monotonic */
  gint64 last_run_ns;
  gint64 last_wait_ns;
  gint64 last_xserver_ns;
  GArray *frame_run;        /* ms per interval */
  GArray *frame_wait;
  GArray *frame_xserver;
  guint tick_id;
  /* the frame log (#17): FrameRecord per interval, and the counters they
   * are differences of */
  GArray *frames;
  guint binds, setups;      /* the chat's row factory's ::bind, ::setup */
  /* main-thread CPU in ::bind, split by whether the row kept its message
   * (GTK 4.8 binds a row again when only its position moved) */
  double bind_start_cpu_ms;
  gpointer bind_row_message;
  guint binds_kept;
  double bind_kept_cpu_ms, bind_new_cpu_ms;
  guint tick_binds, tick_setups, tick_decoded, tick_messages;  /* at the last tick */
  guint paint_start_binds;
  double page_start_cpu_ms; /* in the messages' items-changed */
  double pages_cpu_ms;      /* all of it so far */
  double tick_page_cpu_ms;
  FrameRecord last_frame;   /* the last frame's phases */
  double after_paint_cpu_ms;
  guint scroll_messages;
  double scroll_ms;
  /* NATTER_APP_BENCH_CHILD_ENV=1: a child's view of the environment */
  gboolean child_env;
  gboolean child_env_read;
  gboolean child_saw_bench;        /* the child did run: it saw NATTER_APP_BENCH */
  char *child_gdk_debug;           /* GDK_DEBUG as the child saw it, or NULL */
  GArray *next_opens;       /* ms of the chats opened after the first */
  GArray *next_cpu;         /* and the main thread's CPU ms for each */
  /* each open in two phases (#17): the click → the store's first page in
   * the model (the worker thread's query, the rows bound), then → the
   * frame showing it (layout and paint) */
  double page_ms;           /* the open in progress */
  double page_cpu_ms;
  double open_page_ms;      /* the first chat's */
  double open_page_cpu_ms;
  GArray *next_page;        /* the next chats' */
  GArray *next_page_cpu;
  guint next_count;
  gulong paint_id;
  /* what each open redrew (#17), by the X server's count: all of it, and
   * what of it lies outside the chat view (the sidebar's rows whose
   * highlight moved, and what should not be there) */
  NatterDamageMeter *meter;
  double open_damage_px, open_damage_outside_px;
  GArray *next_damage;
  GArray *next_damage_outside;
  double window_px, pane_px;
} Probe;

static long
heap_kib (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return (long) ((info.uordblks + info.hblkhd) / 1024);
}

/* CPU time of the calling thread: what opening a chat costs the main
 * thread, whatever else the machine runs meanwhile. */
/* How many conversations the sidebar's list view has (a screenful first). */
static guint
sidebar_shown (Probe *probe)
{
  GtkListView *view = natter_sidebar_get_list_view (natter_window_get_sidebar (probe->window));

  return g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (view)));
}

/* Whether @widget or a widget inside it, shown or not, is a @type. */
static gboolean
has_widget_of_type (GtkWidget *widget,
                    GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (has_widget_of_type (child, type))
      return TRUE;
  return FALSE;
}

/* Whether the conversation list has loaded. */
static gboolean
list_loaded (Probe *probe)
{
  NatterConversationList *list = natter_sidebar_get_conversations (natter_window_get_sidebar (probe->window));

  return list != NULL && !natter_conversation_list_get_loading (list);
}

/* NATTER_APP_BENCH_MARK=1: when the window is mapped, when the first frame and the list's frame are
 * drawn, when the first chat is opened, when its frame is drawn and when
 * the run ends, in CLOCK_MONOTONIC seconds on stderr, to
 * cut a `perf record -k CLOCK_MONOTONIC` of the app to them
 * (`perf script --time OPEN,FRAME`). */
static void
mark (const char *what)
{
  if (g_strcmp0 (g_getenv ("NATTER_APP_BENCH_MARK"), "1") == 0)
    fprintf (stderr, "MARK %s %.6f\n", what, g_get_monotonic_time () / 1e6);
}

/* CPU time of the whole process: the main thread and the decoders. */
static double
process_cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double
thread_cpu_ms (void)
{
  return natter_bench_thread_cpu_ms ();
}

/* /proc/…/schedstat: time on a core and time runnable on a run queue,
 * ns; FALSE when it cannot be read. */
static gboolean
read_schedstat (const char *path,
                gint64     *run_ns,
                gint64     *wait_ns)
{
  char buf[128];
  FILE *f = fopen (path, "r");
  long long run = 0, wait = 0;
  gboolean ok;

  if (f == NULL)
    return FALSE;
  ok = fgets (buf, sizeof buf, f) != NULL && sscanf (buf, "%lld %lld", &run, &wait) == 2;
  fclose (f);
  *run_ns = run;
  *wait_ns = wait;
  return ok;
}

/* The X server's process: the peer of the display's socket (Xvfb under
 * the bench shares the box's two cores with us). */
static int
xserver_pid (GtkWidget *widget)
{
#ifdef GDK_WINDOWING_X11
  GdkDisplay *display = gtk_widget_get_display (widget);
  struct ucred cred = { 0 };
  socklen_t len = sizeof cred;

  if (GDK_IS_X11_DISPLAY (display) &&
      getsockopt (ConnectionNumber (gdk_x11_display_get_xdisplay (display)), SOL_SOCKET, SO_PEERCRED,
                  &cred, &len) == 0)
    return cred.pid;
#endif
  return 0;
}

/* Whether /proc/self/maps names one of @needles (NULL-terminated). */
static gboolean
maps_name (const char * const *needles)
{
  g_autofree char *maps = NULL;

  if (!g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL))
    return FALSE;
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (maps, needles[i]) != NULL)
      return TRUE;
  return FALSE;
}

/* Whether an SVG was drawn: gdk-pixbuf's SVG loader maps librsvg (~6.5 MiB). */
static gboolean
librsvg_mapped (void)
{
  return maps_name ((const char * const[]) { "librsvg", NULL });
}

/* Whether a GL driver was loaded: Mesa's, and with llvmpipe LLVM (57 MiB). */
static gboolean
gl_driver_mapped (void)
{
  return maps_name ((const char * const[]) { "_dri.so", "libGLX_mesa", "libEGL_mesa", "libLLVM", NULL });
}

/* libnice and the GnuTLS it links: loaded with a call's ICE agent, not
 * linked into the app (#17). */
static gboolean
ice_stack_mapped (void)
{
  return maps_name ((const char * const[]) { "libnice.so", "libgnutls.so", NULL });
}

/* Whether the calls' machinery was started: GStreamer plugins loaded (the
 * call elements, the DTLS key's OpenSSL, the encoder probe: ~20 MiB). */
static gboolean
call_media_mapped (void)
{
  return maps_name ((const char * const[]) { "/gstreamer-1.0/", "libcrypto.so", NULL });
}

/* The call module and the GStreamer libraries only it links (webrtc, SDP,
 * RTP, app), loaded when first needed (#17). libgstreamer itself is not a
 * sign: GTK's media backend links it, and GTK 4.8 loads that backend in
 * gtk_init() when its directory has no giomodule.cache (this box). */
static gboolean
call_module_mapped (void)
{
  return maps_name ((const char * const[]) { "libnatter-calls.so", "libgstwebrtc-1.0.so", "libgstsdp-1.0.so",
                                             "libgstrtp-1.0.so", "libgstapp-1.0.so", NULL });
}

static double
percentile (GArray *values,
            double  p)
{
  if (values->len == 0)
    return 0;
  return g_array_index (values, double, MIN (values->len - 1, (guint) (p * values->len)));
}

static double
mean (GArray *values)
{
  double sum = 0;

  for (guint i = 0; i < values->len; i++)
    sum += g_array_index (values, double, i);
  return values->len > 0 ? sum / values->len : 0;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Frames the clock skipped: an interval of n refresh periods drops n − 1
 * (60 Hz: Xvfb has no vblank, GDK's frame clock runs at that rate). */
static guint
dropped_frames (GArray *intervals)
{
  guint dropped = 0;

  for (guint i = 0; i < intervals->len; i++)
    {
      double periods = g_array_index (intervals, double, i) / (1000.0 / 60);

      if (periods >= 1.5)
        dropped += (guint) (periods + 0.5) - 1;
    }
  return dropped;
}

static void finish (Probe *probe);

static void
child_env_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Probe *probe = user_data;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &out, NULL, &error))
    g_printerr ("bench: env: %s\n", error->message);
  lines = g_strsplit (out != NULL ? out : "", "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "GDK_DEBUG="))
        probe->child_gdk_debug = g_strescape (lines[i] + strlen ("GDK_DEBUG="), NULL);
      else if (g_str_equal (lines[i], "NATTER_APP_BENCH=1"))
        probe->child_saw_bench = TRUE;
    }
  probe->child_env_read = TRUE;
  finish (probe);
}

/* A process the app spawns inherits its environment as it is now, like
 * a sound player, a portal helper or the app a file is opened with. */
static gboolean
spawn_env_child (Probe *probe)
{
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "env", NULL);
  if (child == NULL)
    {
      g_printerr ("bench: env: %s\n", error->message);
      return FALSE;
    }
  g_subprocess_communicate_utf8_async (child, NULL, NULL, child_env_cb, probe);
  return TRUE;
}

/* The late frames (an interval of 1.5 refresh periods or more) by where
 * their interval went: the main thread's own work (on a core for more than
 * a period), the main thread waiting for a core (its work and its wait
 * together more than a period: the box's load), or neither (the main
 * thread slept: the X server, the frame clock's pacing). Sums in ms over
 * the late frames and over all, so a loaded box tells what is ours.
 * Opens the figures' JSON object. */
static void
print_late_frames (Probe *probe)
{
  const double period = 1000.0 / 60;
  guint late = 0, own = 0, waited = 0, slept = 0;
  double late_ms = 0, late_run = 0, late_wait = 0, late_x = 0;
  double run = 0, wait = 0, x = 0;
  guint n = MIN (probe->intervals->len, probe->frame_run->len);

  for (guint i = 0; i < n; i++)
    {
      double interval = g_array_index (probe->intervals, double, i);
      double r = g_array_index (probe->frame_run, double, i);
      double w = g_array_index (probe->frame_wait, double, i);
      double xs = g_array_index (probe->frame_xserver, double, i);

      run += r;
      wait += w;
      x += xs;
      if (interval < 1.5 * period)
        continue;
      late++;
      late_ms += interval;
      late_run += r;
      late_wait += w;
      late_x += xs;
      if (r > period)
        own++;
      else if (r + w > period)
        waited++;
      else
        slept++;
    }
  printf ("{\"scrollLateFrames\":%u,\"scrollLateOwnWork\":%u,\"scrollLateWaitedForCore\":%u,\"scrollLateSlept\":%u,"
          "\"scrollLateMs\":%.1f,\"scrollLateRunMs\":%.1f,\"scrollLateWaitMs\":%.1f,\"scrollLateXserverMs\":%.1f,"
          "\"scrollRunMeanMs\":%.2f,\"scrollWaitMeanMs\":%.2f,\"scrollXserverMeanMs\":%.2f,\"xserverKnown\":%s,",
          late, own, waited, slept, late_ms, late_run, late_wait, late_x,
          n > 0 ? run / n : 0, n > 0 ? wait / n : 0, n > 0 ? x / n : 0, probe->xserver_pid > 0 ? "true" : "false");
}

/* The frame log (#17): the intervals whose own work (the main thread on
 * a core) took more than a period, by phase, summed, with the rows bound,
 * thumbnails and pages that came in them; and the frames with nothing new
 * (no row bound or made, no thumbnail, no page) against the others, so the
 * part that is the X server's drawing of what we send shows. With
 * NATTER_APP_BENCH_FRAMES=1 each late interval is a line on stderr.
 * Continues the figures' JSON object. */
static void
print_frame_log (Probe *probe)
{
  const double period = 1000.0 / 60;
  gboolean log = g_strcmp0 (g_getenv ("NATTER_APP_BENCH_FRAMES"), "1") == 0;
  guint heavy = 0, quiet = 0, busy = 0;
  double h_update = 0, h_layout = 0, h_paint = 0, h_between = 0, h_run = 0, h_pages = 0;
  guint h_binds = 0, h_binds_phases = 0, h_setups = 0, h_decoded = 0, h_messages = 0;
  double q_paint = 0, q_x = 0, q_run = 0, b_paint = 0, b_x = 0, b_run = 0;
  g_autoptr(GArray) q_intervals = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) b_intervals = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; i < probe->frames->len; i++)
    {
      FrameRecord *r = &g_array_index (probe->frames, FrameRecord, i);

      if (r->binds == 0 && r->setups == 0 && r->decoded == 0 && r->messages == 0)
        {
          quiet++;
          q_paint += r->paint;
          q_x += r->xserver;
          q_run += r->run;
          g_array_append_val (q_intervals, r->interval);
        }
      else
        {
          busy++;
          b_paint += r->paint;
          b_x += r->xserver;
          b_run += r->run;
          g_array_append_val (b_intervals, r->interval);
        }
      if (log && r->interval >= 1.5 * period)
        fprintf (stderr, "FRAME %u interval %.1f ms: main thread on a core %.1f, waiting %.1f, X server %.1f; "
                 "CPU update %.1f layout %.1f paint %.1f between %.1f (the pages' items-changed %.1f), the next move of the adjustment %.1f; "
                 "rows bound %u (%u in the phases), made %u, thumbnails %u, messages %u\n",
                 i, r->interval, r->run, r->wait, r->xserver, r->update, r->layout, r->paint, r->between, r->pages, r->scroll,
                 r->binds, r->binds_in_phases, r->setups, r->decoded, r->messages);
      if (r->run <= period)
        continue;
      heavy++;
      h_run += r->run;
      h_update += r->update;
      h_layout += r->layout;
      h_paint += r->paint;
      h_between += r->between;
      h_pages += r->pages;
      h_binds += r->binds;
      h_binds_phases += r->binds_in_phases;
      h_setups += r->setups;
      h_decoded += r->decoded;
      h_messages += r->messages;
    }
  g_array_sort (q_intervals, compare_double);
  g_array_sort (b_intervals, compare_double);
  printf ("\"scrollHeavyFrames\":%u,\"scrollHeavyRunMs\":%.1f,\"scrollHeavyUpdateMs\":%.1f,\"scrollHeavyLayoutMs\":%.1f,"
          "\"scrollHeavyPaintMs\":%.1f,\"scrollHeavyBetweenMs\":%.1f,\"scrollHeavyPagesMs\":%.1f,\"scrollHeavyBinds\":%u,\"scrollHeavyBindsInPhases\":%u,"
          "\"scrollHeavySetups\":%u,\"scrollHeavyDecoded\":%u,\"scrollHeavyMessages\":%u,"
          "\"scrollQuietFrames\":%u,\"scrollQuietIntervalP99Ms\":%.2f,\"scrollQuietRunMeanMs\":%.2f,"
          "\"scrollQuietPaintMeanMs\":%.2f,\"scrollQuietXserverMeanMs\":%.2f,"
          "\"scrollBusyFrames\":%u,\"scrollBusyIntervalP99Ms\":%.2f,\"scrollBusyRunMeanMs\":%.2f,"
          "\"scrollBusyPaintMeanMs\":%.2f,\"scrollBusyXserverMeanMs\":%.2f,\"scrollRowsBound\":%u,\"scrollRowsMade\":%u,"
          "\"scrollRowsKept\":%u,\"scrollBindKeptUs\":%.1f,\"scrollBindNewUs\":%.1f,",
          heavy, h_run, h_update, h_layout, h_paint, h_between, h_pages, h_binds, h_binds_phases, h_setups, h_decoded, h_messages,
          quiet, percentile (q_intervals, 0.99), quiet > 0 ? q_run / quiet : 0,
          quiet > 0 ? q_paint / quiet : 0, quiet > 0 ? q_x / quiet : 0,
          busy, percentile (b_intervals, 0.99), busy > 0 ? b_run / busy : 0,
          busy > 0 ? b_paint / busy : 0, busy > 0 ? b_x / busy : 0, probe->binds, probe->setups,
          probe->binds_kept, probe->binds_kept > 0 ? 1000 * probe->bind_kept_cpu_ms / probe->binds_kept : 0,
          probe->binds > probe->binds_kept ? 1000 * probe->bind_new_cpu_ms / (probe->binds - probe->binds_kept) : 0);
}

static void
finish (Probe *probe)
{
  double next_median = 0;
  double next_cpu_median = 0;
  NatterConversationList *list;

  if (probe->next_opens->len > 0)
    {
      g_array_sort (probe->next_opens, compare_double);
      next_median = g_array_index (probe->next_opens, double, probe->next_opens->len / 2);
      g_array_sort (probe->next_cpu, compare_double);
      next_cpu_median = g_array_index (probe->next_cpu, double, probe->next_cpu->len / 2);
    }
  probe->stage = DONE;
  /* all of them by now: the list frame showed the first page (#17) */
  list = natter_sidebar_get_conversations (natter_window_get_sidebar (probe->window));
  probe->conversations = list != NULL ? g_list_model_get_n_items (G_LIST_MODEL (list)) : 0;
  if (probe->child_env && !probe->child_env_read && spawn_env_child (probe))
    return;
  mark ("end");
  print_late_frames (probe);
  print_frame_log (probe);
  g_array_sort (probe->next_page, compare_double);
  g_array_sort (probe->next_page_cpu, compare_double);
  g_array_sort (probe->next_damage, compare_double);
  g_array_sort (probe->next_damage_outside, compare_double);
  printf ("\"windowKpx\":%.1f,\"chatPaneKpx\":%.1f,\"openDamageKpx\":%.1f,\"openDamageOutsideKpx\":%.1f,"
          "\"nextDamageMedianKpx\":%.1f,\"nextDamageOutsideMedianKpx\":%.1f,",
          probe->window_px / 1000, probe->pane_px / 1000, probe->open_damage_px / 1000,
          probe->open_damage_outside_px / 1000, percentile (probe->next_damage, 0.5) / 1000,
          percentile (probe->next_damage_outside, 0.5) / 1000);
  printf ("\"openPageMs\":%.1f,\"openPageCpuMs\":%.1f,\"nextPageMedianMs\":%.1f,\"nextPageCpuMedianMs\":%.1f,",
          probe->open_page_ms, probe->open_page_cpu_ms, percentile (probe->next_page, 0.5),
          percentile (probe->next_page_cpu, 0.5));
  g_array_sort (probe->intervals, compare_double);
  g_array_sort (probe->work, compare_double);
  g_array_sort (probe->phase_update, compare_double);
  g_array_sort (probe->phase_layout, compare_double);
  g_array_sort (probe->phase_paint, compare_double);
  /* one JSON object: print_late_frames() opened it */
  printf ("\"scrollUpdateCpuMeanMs\":%.2f,\"scrollLayoutCpuMeanMs\":%.2f,\"scrollPaintCpuMeanMs\":%.2f,"
          "\"scrollUpdateCpuP50Ms\":%.2f,\"scrollUpdateCpuP99Ms\":%.2f,\"scrollLayoutCpuP50Ms\":%.2f,\"scrollLayoutCpuP99Ms\":%.2f,"
          "\"scrollPaintCpuP50Ms\":%.2f,\"scrollPaintCpuP99Ms\":%.2f,",
          mean (probe->phase_update), mean (probe->phase_layout), mean (probe->phase_paint),
          percentile (probe->phase_update, 0.5), percentile (probe->phase_update, 0.99),
          percentile (probe->phase_layout, 0.5), percentile (probe->phase_layout, 0.99),
          percentile (probe->phase_paint, 0.5), percentile (probe->phase_paint, 0.99));
  printf ("\"mapMs\":%.1f,\"mapCpuMs\":%.1f,\"firstFrameMs\":%.1f,\"conversationListFrameMs\":%.1f,\"conversations\":%u,"
          "\"listRssKiB\":%ld,\"listHeapKiB\":%ld,\"mapRss5sKiB\":%ld,\"librsvgMapped\":%s,\"openChatMs\":%.1f,\"openChatCpuMs\":%.1f,\"messagesShown\":%u,"
          "\"nextChatsMedianMs\":%.1f,\"nextChats\":%u,\"rssKiB\":%ld,"
          "\"scrollFrames\":%u,\"scrollMessages\":%u,\"scrollMs\":%.0f,"
          "\"scrollIntervalP50Ms\":%.2f,\"scrollIntervalP90Ms\":%.2f,\"scrollIntervalP99Ms\":%.2f,"
          "\"scrollWorkP50Ms\":%.2f,\"scrollWorkP90Ms\":%.2f,\"scrollWorkP99Ms\":%.2f,"
          "\"scrollCpuMs\":%.0f,\"scrollProcessCpuMs\":%.0f,\"scrollIntervalMaxMs\":%.2f,\"scrollWorkMaxMs\":%.2f,\"scrollDroppedFrames\":%u,"
          "\"firstFrameCpuMs\":%.1f,\"listFrameCpuMs\":%.1f,\"listFrameShown\":%u,\"shownAtEnd\":%u,"
          "\"nextChatsCpuMedianMs\":%.1f,\"glDriverMapped\":%s,\"callMediaMapped\":%s,\"iceStackMapped\":%s,"
          "\"signInPageAtMap\":%s,\"chatViewAtMap\":%s,\"callModuleAtMap\":%s,\"childEnvRead\":%s,\"childSawBench\":%s,\"childGdkDebug\":\"%s\"}\n",
          probe->map_ms, probe->map_cpu_ms, probe->first_frame_ms, probe->list_frame_ms, probe->conversations, probe->list_rss_kib,
          probe->list_heap_kib, probe->settled_rss_kib, probe->settled_librsvg ? "true" : "false", probe->open_chat_ms, probe->open_chat_cpu_ms, probe->messages, next_median, probe->next_opens->len, natter_bench_rss_kib (),
          probe->intervals->len, probe->scroll_messages, probe->scroll_ms,
          percentile (probe->intervals, 0.5), percentile (probe->intervals, 0.9), percentile (probe->intervals, 0.99),
          percentile (probe->work, 0.5), percentile (probe->work, 0.9), percentile (probe->work, 0.99),
          probe->scroll_cpu_ms, probe->scroll_process_cpu_ms, percentile (probe->intervals, 1), percentile (probe->work, 1), dropped_frames (probe->intervals),
          probe->first_frame_cpu_ms, probe->list_frame_cpu_ms, probe->list_frame_shown, sidebar_shown (probe),
          next_cpu_median, probe->settled_gl ? "true" : "false", probe->settled_call ? "true" : "false",
          probe->settled_ice ? "true" : "false",
          probe->map_sign_in_page ? "true" : "false", probe->map_chat_view ? "true" : "false",
          probe->map_call_module ? "true" : "false",
          probe->child_env_read ? "true" : "false", probe->child_saw_bench ? "true" : "false",
          probe->child_gdk_debug != NULL ? probe->child_gdk_debug : "");
  fflush (stdout);
  g_application_quit (g_application_get_default ());
}

/* NATTER_APP_BENCH_NODES=DIR: the window's render nodes at an open's
 * start and end, serialized, to diff what changed (#17). */
static void
dump_nodes (Probe      *probe,
            const char *when)
{
  static guint n;
  const char *dir = g_getenv ("NATTER_APP_BENCH_NODES");
  GtkWidget *widget = GTK_WIDGET (probe->window);
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *path = NULL;

  if (dir == NULL || *dir == '\0')
    return;
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, gtk_widget_get_width (widget), gtk_widget_get_height (widget));
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    return;
  bytes = gsk_render_node_serialize (node);
  path = g_strdup_printf ("%s/%02u-%s.node", dir, n++, when);
  g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
}

/* The open began: the meter starts over. */
static void
damage_start (Probe *probe)
{
  if (probe->meter == NULL)
    probe->meter = natter_damage_meter_new (GTK_WINDOW (probe->window));
  if (probe->meter != NULL)
    cairo_region_destroy (natter_damage_meter_take (probe->meter));
  dump_nodes (probe, "start");
}

/* The open's frame ended: what it redrew, all and outside the chat view
 * (NATTER_APP_BENCH_DAMAGE=1: its rectangles on stderr). */
static void
damage_end (Probe  *probe,
            double *all_px,
            double *outside_px)
{
  cairo_region_t *damage;
  cairo_rectangle_int_t pane, window;
  GtkWidget *view = GTK_WIDGET (natter_window_get_chat_view (probe->window));

  *all_px = *outside_px = 0;
  if (probe->meter == NULL)
    return;
  damage = natter_damage_meter_take (probe->meter);
  dump_nodes (probe, "end");
  *all_px = natter_damage_meter_area (damage);
  if (g_strcmp0 (g_getenv ("NATTER_APP_BENCH_DAMAGE"), "1") == 0)
    for (int i = 0; i < cairo_region_num_rectangles (damage); i++)
      {
        cairo_rectangle_int_t r;

        cairo_region_get_rectangle (damage, i, &r);
        fprintf (stderr, "DAMAGE %d,%d %dx%d\n", r.x, r.y, r.width, r.height);
      }
  if (natter_damage_meter_bounds (probe->meter, GTK_WIDGET (probe->window), &window))
    probe->window_px = (double) window.width * window.height;
  if (natter_damage_meter_bounds (probe->meter, view, &pane))
    {
      probe->pane_px = (double) pane.width * pane.height;
      cairo_region_subtract_rectangle (damage, &pane);
    }
  *outside_px = natter_damage_meter_area (damage);
  cairo_region_destroy (damage);
}

static void
page_cb (GListModel *messages,
         guint       position,
         guint       removed,
         guint       added,
         Probe      *probe)
{
  if (added == 0)
    return;
  probe->page_ms = natter_bench_boottime_ms () - probe->open_start_ms;
  probe->page_cpu_ms = thread_cpu_ms () - probe->open_start_cpu_ms;
  g_signal_handlers_disconnect_by_func (messages, page_cb, probe);
}

/* Opens a chat; page_cb() notes when its first page is in the model. */
static void
open_chat (Probe                  *probe,
           NatterConversationType  type,
           const char             *target_id)
{
  NatterMessageList *messages;

  /* its X round trip before the clocks start */
  damage_start (probe);
  probe->open_start_ms = natter_bench_boottime_ms ();
  probe->open_start_cpu_ms = thread_cpu_ms ();
  probe->page_ms = probe->page_cpu_ms = 0;
  natter_window_open_conversation (probe->window, type, target_id, 0);
  messages = natter_chat_view_get_messages (natter_window_get_chat_view (probe->window));
  /* after the chat view's own handler: the rows are bound by then */
  if (messages != NULL && g_list_model_get_n_items (G_LIST_MODEL (messages)) == 0)
    g_signal_connect_after (messages, "items-changed", G_CALLBACK (page_cb), probe);
  else if (messages != NULL)
    {
      /* read ahead (natter_chat_view_prefetch()): in the model, rows bound, at once */
      probe->page_ms = natter_bench_boottime_ms () - probe->open_start_ms;
      probe->page_cpu_ms = thread_cpu_ms () - probe->open_start_cpu_ms;
    }
}

static void
start_open (Probe *probe)
{
  const char *open = g_getenv ("NATTER_APP_BENCH_OPEN");
  g_auto(GStrv) parts = open != NULL ? g_strsplit (open, ":", 2) : NULL;

  probe->settled_rss_kib = natter_bench_rss_kib ();
  probe->settled_librsvg = librsvg_mapped ();
  probe->settled_gl = gl_driver_mapped ();
  probe->settled_call = call_media_mapped ();
  probe->settled_ice = ice_stack_mapped ();
  if (parts == NULL || parts[0] == NULL || parts[1] == NULL)
    {
      finish (probe);
      return;
    }
  probe->stage = WAIT_CHAT;
  mark ("open");
  open_chat (probe, atoi (parts[0]), parts[1]);
}

static void
scroll_done (Probe *probe)
{
  NatterChatView *view = natter_window_get_chat_view (probe->window);
  GtkWidget *list_view = GTK_WIDGET (natter_chat_view_get_list_view (view));

  gtk_widget_remove_tick_callback (list_view, probe->tick_id);
  probe->tick_id = 0;
  probe->scroll_ms = (g_get_monotonic_time () - probe->scroll_start_us) / 1000.0;
  probe->scroll_cpu_ms = thread_cpu_ms () - probe->scroll_start_cpu_ms;
  probe->scroll_process_cpu_ms = process_cpu_ms () - probe->scroll_start_process_cpu_ms;
  probe->scroll_messages = g_list_model_get_n_items (G_LIST_MODEL (natter_chat_view_get_messages (view)));
  finish (probe);
}

/* What the main thread and the X server did since the previous tick. */
static void
record_interval_sched (Probe *probe)
{
  gint64 run = 0, wait = 0, xrun = 0, xwait = 0;
  g_autofree char *xpath = probe->xserver_pid > 0 ? g_strdup_printf ("/proc/%d/schedstat", probe->xserver_pid) : NULL;

  if (!read_schedstat ("/proc/thread-self/schedstat", &run, &wait))
    return;
  if (xpath == NULL || !read_schedstat (xpath, &xrun, &xwait))
    xrun = 0;
  if (probe->last_run_ns != 0)
    {
      double run_ms = (run - probe->last_run_ns) / 1e6;
      double wait_ms = (wait - probe->last_wait_ns) / 1e6;
      double x_ms = xrun > 0 ? (xrun - probe->last_xserver_ns) / 1e6 : 0;

      /* NATTER_APP_BENCH_MARK=1: where to cut a perf record to the frames
       * whose own work took more than a period */
      if (run_ms > 1000.0 / 60 && g_strcmp0 (g_getenv ("NATTER_APP_BENCH_MARK"), "1") == 0)
        fprintf (stderr, "MARK heavy-frame %.6f,%.6f %.1f\n", probe->last_tick_us / 1e6,
                 g_get_monotonic_time () / 1e6, run_ms);
      g_array_append_val (probe->frame_run, run_ms);
      g_array_append_val (probe->frame_wait, wait_ms);
      g_array_append_val (probe->frame_xserver, x_ms);
    }
  probe->last_tick_us = g_get_monotonic_time ();
  probe->last_run_ns = run;
  probe->last_wait_ns = wait;
  probe->last_xserver_ns = xrun;
}

static guint
n_decoded (void)
{
  return natter_thumbnail_cache_get_n_decoded (natter_thumbnail_cache_get_default ());
}

/* At a tick: the interval that ended, from the frame it began with. */
static void
record_frame (Probe             *probe,
              NatterMessageList *messages)
{
  guint n_messages = messages != NULL ? g_list_model_get_n_items (G_LIST_MODEL (messages)) : 0;
  guint decoded = n_decoded ();
  guint i = probe->intervals->len;

  if (i > probe->frames->len)
    {
      FrameRecord r = probe->last_frame;

      r.interval = g_array_index (probe->intervals, double, i - 1);
      if (probe->frame_run->len == i)
        {
          r.run = g_array_index (probe->frame_run, double, i - 1);
          r.wait = g_array_index (probe->frame_wait, double, i - 1);
          r.xserver = g_array_index (probe->frame_xserver, double, i - 1);
        }
      r.between = probe->after_paint_cpu_ms > 0 ? thread_cpu_ms () - probe->after_paint_cpu_ms : 0;
      r.binds = probe->binds - probe->tick_binds;
      r.setups = probe->setups - probe->tick_setups;
      r.decoded = decoded - probe->tick_decoded;
      r.messages = n_messages - probe->tick_messages;
      r.pages = probe->pages_cpu_ms - probe->tick_page_cpu_ms;
      g_array_append_val (probe->frames, r);
    }
  probe->tick_binds = probe->binds;
  probe->tick_setups = probe->setups;
  probe->tick_decoded = decoded;
  probe->tick_messages = n_messages;
  probe->tick_page_cpu_ms = probe->pages_cpu_ms;
  memset (&probe->last_frame, 0, sizeof probe->last_frame);
}

/* One frame of the fling: up by speed × the frame clock's interval, the
 * older pages loading as the chat view asks for them, until its top. */
static gboolean
scroll_tick_cb (GtkWidget     *widget,
                GdkFrameClock *clock,
                gpointer       user_data)
{
  Probe *probe = user_data;
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (widget));
  NatterMessageList *messages = natter_chat_view_get_messages (natter_window_get_chat_view (probe->window));
  gint64 now = gdk_frame_clock_get_frame_time (clock);
  double dt = probe->last_frame_us != 0 ? (now - probe->last_frame_us) / 1000.0 : 1000.0 / 60;
  double value = gtk_adjustment_get_value (adj);

  if (probe->last_frame_us != 0)
    g_array_append_val (probe->intervals, dt);
  probe->last_frame_us = now;
  record_interval_sched (probe);
  record_frame (probe, messages);

  /* Offline, has-more stays TRUE past the store's last page (the server
   * might have older ones), so the profile's size tells where the top is. */
  if ((value <= 0 && messages != NULL &&
       (!natter_message_list_get_has_more (messages) ||
        (probe->scroll_until > 0 &&
         g_list_model_get_n_items (G_LIST_MODEL (messages)) >= probe->scroll_until))) ||
      g_get_monotonic_time () - probe->scroll_start_us > SCROLL_MAX_MS * 1000)
    {
      scroll_done (probe);
      return G_SOURCE_REMOVE;
    }
  {
    double cpu = thread_cpu_ms ();

    gtk_adjustment_set_value (adj, MAX (0, value - probe->scroll_speed * MIN (dt, 50) / 1000));
    if (probe->frames->len > 0)
      g_array_index (probe->frames, FrameRecord, probe->frames->len - 1).scroll = thread_cpu_ms () - cpu;
  }
  return G_SOURCE_CONTINUE;
}

static void
before_paint_cb (GdkFrameClock *clock,
                 Probe         *probe)
{
  probe->paint_start_us = probe->stage == SCROLL ? g_get_monotonic_time () : 0;
  probe->paint_start_cpu_ms = probe->stage == SCROLL ? thread_cpu_ms () : 0;
  probe->paint_start_binds = probe->binds;
  probe->update_end_cpu_ms = probe->layout_end_cpu_ms = probe->paint_end_cpu_ms = 0;

  /* the list came in between frames: this frame lays it out and draws it;
   * the window's first frame too, when the list came before it (#17) */
  if (probe->stage == WAIT_LIST && list_loaded (probe))
    probe->stage = WAIT_LIST_FRAME;
  else if (probe->stage == WAIT_FIRST_FRAME)
    probe->first_frame_has_list = list_loaded (probe) && sidebar_shown (probe) > 0;
}

/* Connected after GTK's own handlers: each stamps the end of its phase
 * (layout may run more than once a frame: the last one counts). */
static void
update_done_cb (GdkFrameClock *clock,
                Probe         *probe)
{
  if (probe->paint_start_us != 0)
    probe->update_end_cpu_ms = thread_cpu_ms ();
}

static void
layout_done_cb (GdkFrameClock *clock,
                Probe         *probe)
{
  if (probe->paint_start_us != 0)
    probe->layout_end_cpu_ms = thread_cpu_ms ();
}

static void
paint_done_cb (GdkFrameClock *clock,
               Probe         *probe)
{
  if (probe->paint_start_us != 0)
    probe->paint_end_cpu_ms = thread_cpu_ms ();
}

static void
record_phases (Probe *probe)
{
  double update_end = MAX (probe->update_end_cpu_ms, probe->paint_start_cpu_ms);
  double layout_end = MAX (probe->layout_end_cpu_ms, update_end);
  double paint_end = MAX (probe->paint_end_cpu_ms, layout_end);
  double update = update_end - probe->paint_start_cpu_ms;
  double layout = layout_end - update_end;
  double paint = paint_end - layout_end;

  g_array_append_val (probe->phase_update, update);
  g_array_append_val (probe->phase_layout, layout);
  g_array_append_val (probe->phase_paint, paint);
  probe->last_frame.update = update;
  probe->last_frame.layout = layout;
  probe->last_frame.paint = paint;
  probe->last_frame.binds_in_phases = probe->binds - probe->paint_start_binds;
  probe->after_paint_cpu_ms = paint_end;
}

static gpointer
row_message (GtkListItem *item)
{
  GtkWidget *row = gtk_list_item_get_child (item);

  return NATTER_IS_MESSAGE_ROW (row) ? natter_message_row_get_message (NATTER_MESSAGE_ROW (row)) : NULL;
}

/* Before the first handler of a list model's items-changed (the
 * messages': an older page) or of a factory's ::bind: where their CPU
 * time starts. */
static gboolean
start_hook (GSignalInvocationHint *hint,
            guint                  n_params,
            const GValue          *params,
            gpointer               user_data)
{
  Probe *probe = user_data;
  gpointer instance = g_value_get_object (&params[0]);

  if (probe->stage != SCROLL)
    return G_SOURCE_REMOVE;
  if (G_IS_LIST_MODEL (instance))
    {
      if (instance == (gpointer) natter_chat_view_get_messages (natter_window_get_chat_view (probe->window)))
        probe->page_start_cpu_ms = thread_cpu_ms ();
    }
  else if (n_params > 1 && G_VALUE_HOLDS_OBJECT (&params[1]) && GTK_IS_LIST_ITEM (g_value_get_object (&params[1])))
    {
      probe->bind_start_cpu_ms = thread_cpu_ms ();
      probe->bind_row_message = row_message (g_value_get_object (&params[1]));
    }
  return G_SOURCE_CONTINUE;
}

/* after the chat view's handler */
static void
count_bind_cb (Probe       *probe,
               GtkListItem *item)
{
  double cpu = probe->bind_start_cpu_ms > 0 ? thread_cpu_ms () - probe->bind_start_cpu_ms : 0;

  probe->binds++;
  if (probe->bind_row_message != NULL && probe->bind_row_message == row_message (item))
    {
      probe->binds_kept++;
      probe->bind_kept_cpu_ms += cpu;
    }
  else
    probe->bind_new_cpu_ms += cpu;
  probe->bind_start_cpu_ms = 0;
  probe->bind_row_message = NULL;
}

static void
count_setup_cb (Probe *probe)
{
  probe->setups++;
}

/* after the messages' last items-changed handler */
static void
page_done_cb (Probe *probe)
{
  if (probe->page_start_cpu_ms > 0)
    probe->pages_cpu_ms += thread_cpu_ms () - probe->page_start_cpu_ms;
  probe->page_start_cpu_ms = 0;
}

static void
start_scroll (Probe *probe)
{
  GtkWidget *list_view = GTK_WIDGET (natter_chat_view_get_list_view (natter_window_get_chat_view (probe->window)));

  probe->stage = SCROLL;
  probe->xserver_pid = xserver_pid (list_view);
  /* after the chat view's handlers: counts, nothing else */
  g_signal_connect_swapped (gtk_list_view_get_factory (GTK_LIST_VIEW (list_view)), "bind",
                            G_CALLBACK (count_bind_cb), probe);
  g_signal_connect_swapped (gtk_list_view_get_factory (GTK_LIST_VIEW (list_view)), "setup",
                            G_CALLBACK (count_setup_cb), probe);
  g_signal_add_emission_hook (g_signal_lookup ("items-changed", G_TYPE_LIST_MODEL), 0,
                              start_hook, probe, NULL);
  g_signal_add_emission_hook (g_signal_lookup ("bind", GTK_TYPE_SIGNAL_LIST_ITEM_FACTORY), 0,
                              start_hook, probe, NULL);
  g_signal_connect_data (natter_chat_view_get_messages (natter_window_get_chat_view (probe->window)),
                         "items-changed", G_CALLBACK (page_done_cb), probe, NULL,
                         G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  probe->scroll_start_us = g_get_monotonic_time ();
  probe->scroll_start_cpu_ms = thread_cpu_ms ();
  probe->scroll_start_process_cpu_ms = process_cpu_ms ();
  probe->tick_id = gtk_widget_add_tick_callback (list_view, scroll_tick_cb, probe, NULL);
}

static void
open_timeout_cb (gpointer user_data)
{
  Probe *probe = user_data;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (probe->window));

  start_open (probe);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

/* NATTER_APP_BENCH_OPEN_AFTER_MS: a later click, for a run under valgrind
 * (callgrind), where the idle work after start-up takes 20–50 times as
 * long and would otherwise still run when the chat opens. */
static guint
open_delay_ms (Probe *probe)
{
  const char *after = g_getenv ("NATTER_APP_BENCH_OPEN_AFTER_MS");

  if (after != NULL && *after != '\0')
    return (guint) g_ascii_strtoull (after, NULL, 10);
  return (guint) MAX (OPEN_AFTER_MS, probe->map_ms + SETTLE_MS - probe->list_frame_ms);
}

/* The first frame that drew the filled conversation list. */
static void
record_list_frame (Probe *probe)
{
  probe->list_frame_ms = natter_bench_boottime_ms () - probe->start_ms;
  probe->list_frame_cpu_ms = thread_cpu_ms ();
  mark ("list-frame");
  probe->list_frame_shown = sidebar_shown (probe);
  probe->list_rss_kib = natter_bench_rss_kib ();
  probe->list_heap_kib = heap_kib ();
  probe->stage = WAIT_USER;
  /* a person clicks a chat a moment later, once the app has settled:
   * 5 s after the map, when the RSS target is taken */
  g_timeout_add_once (open_delay_ms (probe), open_timeout_cb, probe);
}

static void
after_paint_cb (GdkFrameClock *clock,
                Probe         *probe)
{
  NatterMessageList *messages;

  switch (probe->stage)
    {
    case WAIT_FIRST_FRAME:
      probe->first_frame_ms = natter_bench_boottime_ms () - probe->start_ms;
      probe->first_frame_cpu_ms = thread_cpu_ms ();
      mark ("first-frame");
      if (probe->first_frame_has_list)
        {
          record_list_frame (probe);
          break;
        }
      probe->stage = WAIT_LIST;
      G_GNUC_FALLTHROUGH;
    case WAIT_LIST:
      /* loaded during this frame's paint: the next one draws it */
      if (list_loaded (probe))
        probe->stage = WAIT_LIST_FRAME;
      gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
      break;
    case WAIT_LIST_FRAME:
      /* this frame drew the list: loaded before it began, and the sidebar
       * gave its list view rows */
      if (sidebar_shown (probe) == 0)
        {
          gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
          break;
        }
      record_list_frame (probe);
      break;
    case WAIT_USER:
      break;
    case WAIT_CHAT:
      messages = natter_chat_view_get_messages (natter_window_get_chat_view (probe->window));
      /* the store's answer comes between frames: when the messages are in
       * the model at the end of a frame, that frame laid out and drew them */
      if (messages != NULL && g_list_model_get_n_items (G_LIST_MODEL (messages)) > 0)
        {
          double ms = natter_bench_boottime_ms () - probe->open_start_ms;

          if (probe->messages == 0)
            {
              probe->messages = g_list_model_get_n_items (G_LIST_MODEL (messages));
              probe->open_chat_ms = ms;
              probe->open_chat_cpu_ms = thread_cpu_ms () - probe->open_start_cpu_ms;
              probe->open_page_ms = probe->page_ms;
              probe->open_page_cpu_ms = probe->page_cpu_ms;
              damage_end (probe, &probe->open_damage_px, &probe->open_damage_outside_px);
              mark ("frame");
            }
          else
            {
              double cpu = thread_cpu_ms () - probe->open_start_cpu_ms;
              double all_px, outside_px;

              damage_end (probe, &all_px, &outside_px);
              g_array_append_val (probe->next_damage, all_px);
              g_array_append_val (probe->next_damage_outside, outside_px);

              g_array_append_val (probe->next_opens, ms);
              g_array_append_val (probe->next_cpu, cpu);
              g_array_append_val (probe->next_page, probe->page_ms);
              g_array_append_val (probe->next_page_cpu, probe->page_cpu_ms);
            }

          /* NATTER_APP_BENCH_NEXT=N: then N other chats of the list, one per frame */
          if (probe->next_opens->len < probe->next_count)
            {
              GListModel *all = G_LIST_MODEL (natter_sidebar_get_conversations (natter_window_get_sidebar (probe->window)));
              guint n = g_list_model_get_n_items (all);
              g_autoptr(NatterConversation) next = g_list_model_get_item (all,
                                                                          (probe->next_opens->len + 1) % MAX (n, 1));

              if (next != NULL)
                {
                  open_chat (probe, natter_conversation_get_conversation_type (next),
                             natter_conversation_get_target_id (next));
                  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
                  break;
                }
            }
          if (probe->scroll)
            start_scroll (probe);
          else
            finish (probe);
          break;
        }
      gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
      break;
    case SCROLL:
      if (probe->paint_start_us != 0)
        {
          double ms = (g_get_monotonic_time () - probe->paint_start_us) / 1000.0;
          g_array_append_val (probe->work, ms);
          record_phases (probe);
        }
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
  g_signal_connect (clock, "before-paint", G_CALLBACK (before_paint_cb), probe);
  g_signal_connect_after (clock, "update", G_CALLBACK (update_done_cb), probe);
  g_signal_connect_after (clock, "layout", G_CALLBACK (layout_done_cb), probe);
  g_signal_connect_after (clock, "paint", G_CALLBACK (paint_done_cb), probe);
}

static void
map_cb (GtkWidget *widget,
        Probe     *probe)
{
  /* the first map: hidden and shown again later is not the start */
  if (probe->stage == WAIT_FIRST_FRAME)
    {
      probe->map_ms = natter_bench_since_start_ms ();
      probe->map_cpu_ms = thread_cpu_ms ();
      probe->map_sign_in_page = has_widget_of_type (widget, NATTER_TYPE_SIGN_IN_PAGE);
      probe->map_chat_view = has_widget_of_type (widget, NATTER_TYPE_CHAT_VIEW);
      probe->map_call_module = call_module_mapped ();
      mark ("map");
    }
}

static void
probe_free (Probe *probe)
{
  g_array_unref (probe->next_opens);
  g_array_unref (probe->next_page);
  g_array_unref (probe->next_page_cpu);
  g_array_unref (probe->next_cpu);
  g_array_unref (probe->intervals);
  g_array_unref (probe->work);
  g_array_unref (probe->phase_update);
  g_array_unref (probe->phase_layout);
  g_array_unref (probe->phase_paint);
  g_array_unref (probe->frame_run);
  g_array_unref (probe->frame_wait);
  g_array_unref (probe->frame_xserver);
  g_array_unref (probe->frames);
  g_array_unref (probe->next_damage);
  g_array_unref (probe->next_damage_outside);
  g_clear_object (&probe->meter);
  g_free (probe->child_gdk_debug);
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
  probe->start_ms = natter_bench_process_start_ms ();
  g_signal_connect (window, "realize", G_CALLBACK (realize_cb), probe);
  g_signal_connect (window, "map", G_CALLBACK (map_cb), probe);
  probe->intervals = g_array_new (FALSE, FALSE, sizeof (double));
  probe->work = g_array_new (FALSE, FALSE, sizeof (double));
  probe->phase_update = g_array_new (FALSE, FALSE, sizeof (double));
  probe->phase_layout = g_array_new (FALSE, FALSE, sizeof (double));
  probe->phase_paint = g_array_new (FALSE, FALSE, sizeof (double));
  probe->frame_run = g_array_new (FALSE, FALSE, sizeof (double));
  probe->frame_wait = g_array_new (FALSE, FALSE, sizeof (double));
  probe->frame_xserver = g_array_new (FALSE, FALSE, sizeof (double));
  probe->frames = g_array_new (FALSE, FALSE, sizeof (FrameRecord));
  probe->scroll = g_strcmp0 (g_getenv ("NATTER_APP_BENCH_SCROLL"), "1") == 0;
  probe->scroll_until = (guint) g_ascii_strtoull (g_getenv ("NATTER_APP_BENCH_SCROLL_MESSAGES") ? g_getenv ("NATTER_APP_BENCH_SCROLL_MESSAGES") : "0", NULL, 10);
  probe->scroll_speed = g_ascii_strtod (g_getenv ("NATTER_APP_BENCH_SCROLL_SPEED") ? g_getenv ("NATTER_APP_BENCH_SCROLL_SPEED") : "0", NULL);
  if (probe->scroll_speed <= 0)
    probe->scroll_speed = SCROLL_SPEED;
  probe->child_env = g_strcmp0 (g_getenv ("NATTER_APP_BENCH_CHILD_ENV"), "1") == 0;
  probe->next_opens = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_page = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_page_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_damage = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_damage_outside = g_array_new (FALSE, FALSE, sizeof (double));
  probe->next_count = (guint) g_ascii_strtoull (g_getenv ("NATTER_APP_BENCH_NEXT") ? g_getenv ("NATTER_APP_BENCH_NEXT") : "0", NULL, 10);
  g_object_set_data_full (G_OBJECT (window), "natter-bench-probe", probe, (GDestroyNotify) probe_free);
}
