/* natter-presence-dot.c — the green dot on an online user's avatar (#16)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-presence-dot.h"
#include "natter-presence-tracker.h"

struct _NatterPresenceDot
{
  GtkWidget parent_instance;

  NatterPresenceTracker *tracker;
  char *user_id;
};

G_DEFINE_FINAL_TYPE (NatterPresenceDot, natter_presence_dot, GTK_TYPE_WIDGET)

static void
update (NatterPresenceDot *self)
{
  gboolean online = self->tracker != NULL && natter_presence_tracker_is_online (self->tracker, self->user_id);

  gtk_widget_set_visible (GTK_WIDGET (self), online);
}

static void
changed_cb (NatterPresenceDot *self,
            const char        *user_id)
{
  if (g_strcmp0 (user_id, self->user_id) == 0)
    update (self);
}

void
natter_presence_dot_set_user (NatterPresenceDot *self,
                              NatterClient      *client,
                              const char        *user_id)
{
  NatterPresenceTracker *tracker;

  g_return_if_fail (NATTER_IS_PRESENCE_DOT (self));

  tracker = client != NULL && user_id != NULL ? natter_presence_tracker_for (client) : NULL;
  /* Rebinding the same user (a conversation's every notify) costs nothing. */
  if (tracker == self->tracker && g_strcmp0 (user_id, self->user_id) == 0)
    return;
  if (self->tracker != tracker)
    {
      if (self->tracker != NULL)
        g_signal_handlers_disconnect_by_data (self->tracker, self);
      g_set_object (&self->tracker, tracker);
      if (tracker != NULL)
        g_signal_connect_object (tracker, "changed", G_CALLBACK (changed_cb), self, G_CONNECT_SWAPPED);
    }
  g_free (self->user_id);
  self->user_id = tracker != NULL ? g_strdup (user_id) : NULL;
  if (tracker != NULL)
    natter_presence_tracker_watch (tracker, user_id);
  update (self);
}

GtkWidget *
natter_presence_dot_wrap (GtkWidget    *avatar,
                          NatterClient *client,
                          const char   *user_id)
{
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *dot = natter_presence_dot_new ();

  gtk_widget_set_valign (overlay, GTK_ALIGN_CENTER);
  gtk_overlay_set_child (GTK_OVERLAY (overlay), avatar);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), dot);
  natter_presence_dot_set_user (NATTER_PRESENCE_DOT (dot), client, user_id);
  return overlay;
}

static void
natter_presence_dot_dispose (GObject *object)
{
  NatterPresenceDot *self = (NatterPresenceDot *) object;

  natter_presence_dot_set_user (self, NULL, NULL);
  G_OBJECT_CLASS (natter_presence_dot_parent_class)->dispose (object);
}

static void
natter_presence_dot_class_init (NatterPresenceDotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_presence_dot_dispose;
  gtk_widget_class_set_css_name (widget_class, "presencedot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
natter_presence_dot_init (NatterPresenceDot *self)
{
  gtk_widget_set_halign (GTK_WIDGET (self), GTK_ALIGN_END);
  gtk_widget_set_valign (GTK_WIDGET (self), GTK_ALIGN_END);
  gtk_widget_set_can_target (GTK_WIDGET (self), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  /* Translators: what a screen reader says of the dot on an avatar */
                                  _("Online"), -1);
}

GtkWidget *
natter_presence_dot_new (void)
{
  return g_object_new (NATTER_TYPE_PRESENCE_DOT, NULL);
}
