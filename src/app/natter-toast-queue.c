/* natter-toast-queue.c — toasts for an AdwToastOverlay, one at a time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-toast-queue.h"

/* libadwaita 1.2's overlay (Debian 12, fixed in 1.3) frees a toast when its
 * fade-out ends, and if its slide-in has not ended by then (closed within
 * a frame of appearing, or within 200 ms of replacing a toast that was
 * fading out), the slide-in's end then reads and writes the freed memory:
 * a crash or a corruption found later, far away. So the overlay gets a
 * toast only once the one before has gone (never a replacement), and a
 * toast closed before its slide-in has ended in a frame goes after it. */
#define TOAST_SLIDE_IN_MS 500   /* the longest: a replacement's */

struct _NatterToastQueue
{
  GObject parent_instance;

  AdwToastOverlay *overlay;
  /* toasts waiting for the one on screen (see show_next_toast()) */
  GQueue toasts;
  AdwToast *shown_toast;
  gint64 toast_shown_at;          /* frame time, ms */
  gboolean toast_slid_in;
  gboolean toast_close_waiting;
  guint toast_tick_id;
};

G_DEFINE_FINAL_TYPE (NatterToastQueue, natter_toast_queue, G_TYPE_OBJECT)

static gboolean
overlay_has_toast (NatterToastQueue *self)
{
  GtkWidget *content = adw_toast_overlay_get_child (self->overlay);

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->overlay));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    if (child != content)
      return TRUE;
  return FALSE;
}

static void show_next_toast (NatterToastQueue *self);

/* Frame by frame: the shown toast's slide-in ending (then the close that
 * waited for it), or the one before fading out. */
static gboolean
toast_tick_cb (GtkWidget     *widget,
               GdkFrameClock *clock,
               gpointer       user_data)
{
  NatterToastQueue *self = user_data;

  if (self->shown_toast != NULL)
    {
      /* the slide-in ends in the first frame this late; closed in the next */
      if (!self->toast_slid_in)
        {
          self->toast_slid_in = gdk_frame_clock_get_frame_time (clock) / 1000 - self->toast_shown_at >= TOAST_SLIDE_IN_MS;
          return G_SOURCE_CONTINUE;
        }
      self->toast_tick_id = 0;
      /* the toast forgot its overlay in the close that waited, so
       * adw_toast_dismiss() would do nothing now */
      if (self->toast_close_waiting)
        g_signal_emit_by_name (self->shown_toast, "dismissed");
      return G_SOURCE_REMOVE;
    }
  if (overlay_has_toast (self))
    return G_SOURCE_CONTINUE;
  self->toast_tick_id = 0;
  show_next_toast (self);
  return G_SOURCE_REMOVE;
}

static void
add_toast_tick (NatterToastQueue *self)
{
  if (self->toast_tick_id == 0)
    self->toast_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self->overlay),
                                                        toast_tick_cb, self, NULL);
}

/* Before the overlay's own handler: a close too early waits (the toast's
 * own handler, first, has let go of the overlay). */
static void
toast_dismissing_cb (NatterToastQueue *self,
                     AdwToast         *toast)
{
  if (toast != self->shown_toast || self->toast_slid_in)
    return;
  g_signal_stop_emission_by_name (toast, "dismissed");
  self->toast_close_waiting = TRUE;
  add_toast_tick (self);
}

/* After it: the toast fades out. */
static void
toast_dismissed_cb (NatterToastQueue *self,
                    AdwToast         *toast)
{
  if (toast != self->shown_toast)
    return;
  g_signal_handlers_disconnect_by_data (toast, self);
  g_clear_object (&self->shown_toast);
  show_next_toast (self);
}

/* Unmapped, the overlay ends its animations at once. */
static void
overlay_unmap_cb (NatterToastQueue *self)
{
  if (self->shown_toast != NULL)
    self->toast_slid_in = TRUE;
}

static void
show_next_toast (NatterToastQueue *self)
{
  GdkFrameClock *clock;
  AdwToast *toast;

  if (self->shown_toast != NULL || g_queue_is_empty (&self->toasts))
    return;
  /* the one before still fading out: it goes first */
  if (overlay_has_toast (self))
    {
      add_toast_tick (self);
      return;
    }
  toast = g_queue_pop_head (&self->toasts);
  self->shown_toast = g_object_ref (toast);
  self->toast_close_waiting = FALSE;
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (toast_dismissing_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (toast_dismissed_cb), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  adw_toast_overlay_add_toast (self->overlay, toast);
  /* its slide-in started at this frame time (none when unmapped) */
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (self->overlay));
  self->toast_slid_in = clock == NULL || !gtk_widget_get_mapped (GTK_WIDGET (self->overlay));
  if (!self->toast_slid_in)
    {
      self->toast_shown_at = gdk_frame_clock_get_frame_time (clock) / 1000;
      add_toast_tick (self);
    }
}

void
natter_toast_queue_add (NatterToastQueue *self,
                        AdwToast         *toast)
{
  g_return_if_fail (NATTER_IS_TOAST_QUEUE (self));
  g_return_if_fail (ADW_IS_TOAST (toast));

  g_queue_push_tail (&self->toasts, toast);
  show_next_toast (self);
}

static void
natter_toast_queue_dispose (GObject *object)
{
  NatterToastQueue *self = (NatterToastQueue *) object;

  if (self->toast_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->overlay), self->toast_tick_id);
  self->toast_tick_id = 0;
  if (self->shown_toast != NULL)
    g_signal_handlers_disconnect_by_data (self->shown_toast, self);
  g_clear_object (&self->shown_toast);
  g_queue_clear_full (&self->toasts, g_object_unref);
  if (self->overlay != NULL)
    g_signal_handlers_disconnect_by_data (self->overlay, self);
  g_clear_object (&self->overlay);

  G_OBJECT_CLASS (natter_toast_queue_parent_class)->dispose (object);
}

static void
natter_toast_queue_class_init (NatterToastQueueClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_toast_queue_dispose;
}

static void
natter_toast_queue_init (NatterToastQueue *self)
{
  g_queue_init (&self->toasts);
}

NatterToastQueue *
natter_toast_queue_new (AdwToastOverlay *overlay)
{
  NatterToastQueue *self;

  g_return_val_if_fail (ADW_IS_TOAST_OVERLAY (overlay), NULL);

  self = g_object_new (NATTER_TYPE_TOAST_QUEUE, NULL);
  self->overlay = g_object_ref (overlay);
  g_signal_connect_object (overlay, "unmap", G_CALLBACK (overlay_unmap_cb), self, G_CONNECT_SWAPPED);
  return self;
}
