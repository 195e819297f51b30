/* natter-reaction-bar.c — a message's reaction chips: emoji and count
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-reaction-bar.h"

struct _NatterReactionBar
{
  GtkWidget parent_instance;

  gint64 message_id;
};

G_DEFINE_FINAL_TYPE (NatterReactionBar, natter_reaction_bar, GTK_TYPE_WIDGET)

static void
chip_clicked_cb (GtkButton         *chip,
                 NatterReactionBar *self)
{
  const char *emoji = g_object_get_data (G_OBJECT (chip), "emoji");
  gboolean own = gtk_widget_has_css_class (GTK_WIDGET (chip), "own");

  gtk_widget_activate_action (GTK_WIDGET (self), "chat.react", "(xsb)", self->message_id, emoji, !own);
}

/* "You, bob and carol" style list of who reacted. */
static char *
who_reacted (NatterMessage *message,
             GStrv          user_ids,
             const char    *me)
{
  g_autoptr(GString) names = g_string_new (NULL);

  for (guint i = 0; user_ids[i] != NULL; i++)
    {
      const char *name = user_ids[i];

      if (g_strcmp0 (name, me) == 0)
        name = _("You");
      else if (g_strcmp0 (name, natter_message_get_sender_user_id (message)) == 0 &&
               natter_message_get_sender_name (message) != NULL)
        name = natter_message_get_sender_name (message);
      if (names->len > 0)
        /* Translators: the separator between the names of who reacted */
        g_string_append (names, _(", "));
      g_string_append (names, name);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

void
natter_reaction_bar_set_message (NatterReactionBar *self,
                                 NatterMessage     *message,
                                 const char        *user_id)
{
  g_autoptr(GPtrArray) reactions = NULL;

  g_return_if_fail (NATTER_IS_REACTION_BAR (self));

  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);
  self->message_id = message != NULL ? natter_message_get_message_id (message) : 0;
  reactions = message != NULL ? natter_message_dup_reactions (message) : NULL;
  gtk_widget_set_visible (GTK_WIDGET (self), reactions != NULL && reactions->len > 0);
  if (reactions == NULL)
    return;

  for (guint i = 0; i < reactions->len; i++)
    {
      NatterReaction *reaction = g_ptr_array_index (reactions, i);
      guint count = g_strv_length (reaction->user_ids);
      gboolean own = user_id != NULL && g_strv_contains ((const char * const *) reaction->user_ids, user_id);
      g_autofree char *label = g_strdup_printf ("%s %u", reaction->emoji, count);
      g_autofree char *names = who_reacted (message, reaction->user_ids, user_id);
      /* Translators: a reaction chip's tooltip: "You, bob reacted with 👍" */
      g_autofree char *tooltip = g_strdup_printf (_("%s reacted with %s"), names, reaction->emoji);
      GtkWidget *chip = gtk_button_new_with_label (label);

      gtk_widget_add_css_class (chip, "reaction");
      if (own)
        gtk_widget_add_css_class (chip, "own");
      gtk_widget_set_tooltip_text (chip, tooltip);
      g_object_set_data_full (G_OBJECT (chip), "emoji", g_strdup (reaction->emoji), g_free);
      g_signal_connect (chip, "clicked", G_CALLBACK (chip_clicked_cb), self);
      gtk_widget_set_parent (chip, GTK_WIDGET (self));
    }
}

static void
natter_reaction_bar_dispose (GObject *object)
{
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL;)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (natter_reaction_bar_parent_class)->dispose (object);
}

static void
natter_reaction_bar_class_init (NatterReactionBarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_reaction_bar_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "reactionbar");
}

static void
natter_reaction_bar_init (NatterReactionBar *self)
{
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (GTK_WIDGET (self))), 4);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
}

GtkWidget *
natter_reaction_bar_new (void)
{
  return g_object_new (NATTER_TYPE_REACTION_BAR, NULL);
}
