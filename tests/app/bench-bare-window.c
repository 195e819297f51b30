/* bench-bare-window.c — the yardstick of tests/app/bench-app
 *
 * A bare AdwApplicationWindow with a label, measured as natter's bench
 * probe measures the app (src/app/natter-bench-probe.c): process start →
 * the window's map, → its first frame (and the main thread's CPU time to
 * each: a loaded box moves it far less), and the RSS 5 s after the map. It
 * prints one JSON line and quits; bench-app runs it beside natter in the
 * same X session and prints natter's figures as ratios to these.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <adwaita.h>
#include <stdio.h>

#include "natter-bench-clock.h"

#define SETTLE_MS 5000

static double map_ms, map_cpu_ms, first_frame_ms, first_frame_cpu_ms;

static void
settled_cb (gpointer user_data)
{
  printf ("{\"mapMs\":%.1f,\"mapCpuMs\":%.1f,\"firstFrameMs\":%.1f,\"firstFrameCpuMs\":%.1f,\"mapRss5sKiB\":%ld}\n",
          map_ms, map_cpu_ms, first_frame_ms, first_frame_cpu_ms, natter_bench_rss_kib ());
  fflush (stdout);
  g_application_quit (G_APPLICATION (user_data));
}

static void
after_paint_cb (GdkFrameClock *clock,
                gpointer       user_data)
{
  first_frame_ms = natter_bench_since_start_ms ();
  first_frame_cpu_ms = natter_bench_thread_cpu_ms ();
  g_signal_handlers_disconnect_by_func (clock, after_paint_cb, user_data);
}

static void
map_cb (GtkWidget *window,
        gpointer   user_data)
{
  map_ms = natter_bench_since_start_ms ();
  map_cpu_ms = natter_bench_thread_cpu_ms ();
  g_signal_connect (gtk_widget_get_frame_clock (window), "after-paint", G_CALLBACK (after_paint_cb), NULL);
  g_timeout_add_once (SETTLE_MS, settled_cb, user_data);
}

/* The window itself: what any libadwaita app shows at the least. */
static void
activate_cb (GtkApplication *app)
{
  GtkWidget *window = adw_application_window_new (app);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *label = gtk_label_new ("Hello");

  gtk_widget_set_vexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  gtk_box_append (GTK_BOX (box), label);
  adw_application_window_set_content (ADW_APPLICATION_WINDOW (window), box);
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  g_signal_connect (window, "map", G_CALLBACK (map_cb), app);
  gtk_window_present (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AdwApplication) app = adw_application_new ("im.natter.BenchBareWindow", G_APPLICATION_DEFAULT_FLAGS);

  g_signal_connect (app, "activate", G_CALLBACK (activate_cb), NULL);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
