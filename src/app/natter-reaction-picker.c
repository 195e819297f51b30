/* natter-reaction-picker.c — the quick reaction picker: six emoji and more
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-reaction-picker.h"

static const char * const quick_emoji[] = { "👍", "❤️", "😂", "😮", "😢", "🙏" };

struct _NatterReactionPicker
{
  GtkPopover parent_instance;

  GtkWidget *chooser;   /* parented to our parent, made on "More" */
};

G_DEFINE_FINAL_TYPE (NatterReactionPicker, natter_reaction_picker, GTK_TYPE_POPOVER)

enum {
  PICKED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
emoji_clicked_cb (GtkButton            *button,
                  NatterReactionPicker *self)
{
  gtk_popover_popdown (GTK_POPOVER (self));
  g_signal_emit (self, signals[PICKED], 0, gtk_button_get_label (button));
}

static void
chooser_picked_cb (NatterReactionPicker *self,
                   const char           *emoji)
{
  g_signal_emit (self, signals[PICKED], 0, emoji);
}

static void
more_clicked_cb (NatterReactionPicker *self)
{
  GtkWidget *parent = gtk_widget_get_parent (GTK_WIDGET (self));
  GdkRectangle rect;

  gtk_popover_popdown (GTK_POPOVER (self));
  if (parent == NULL)
    return;
  /* the emoji data loads only when first asked for */
  if (self->chooser == NULL)
    {
      self->chooser = gtk_emoji_chooser_new ();
      gtk_widget_set_parent (self->chooser, parent);
      g_signal_connect_object (self->chooser, "emoji-picked", G_CALLBACK (chooser_picked_cb), self,
                               G_CONNECT_SWAPPED);
    }
  if (gtk_popover_get_pointing_to (GTK_POPOVER (self), &rect))
    gtk_popover_set_pointing_to (GTK_POPOVER (self->chooser), &rect);
  gtk_popover_popup (GTK_POPOVER (self->chooser));
}

GtkWidget *
natter_reaction_picker_get_chooser (NatterReactionPicker *self)
{
  g_return_val_if_fail (NATTER_IS_REACTION_PICKER (self), NULL);
  return self->chooser;
}

static void
natter_reaction_picker_dispose (GObject *object)
{
  NatterReactionPicker *self = (NatterReactionPicker *) object;

  g_clear_pointer (&self->chooser, gtk_widget_unparent);
  G_OBJECT_CLASS (natter_reaction_picker_parent_class)->dispose (object);
}

static void
natter_reaction_picker_class_init (NatterReactionPickerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_reaction_picker_dispose;

  signals[PICKED] =
    g_signal_new ("picked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
natter_reaction_picker_init (NatterReactionPicker *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
  GtkWidget *more = gtk_button_new_from_icon_name ("view-more-symbolic");

  for (guint i = 0; i < G_N_ELEMENTS (quick_emoji); i++)
    {
      GtkWidget *button = gtk_button_new_with_label (quick_emoji[i]);

      gtk_widget_add_css_class (button, "flat");
      gtk_widget_add_css_class (button, "reaction-choice");
      g_signal_connect (button, "clicked", G_CALLBACK (emoji_clicked_cb), self);
      gtk_box_append (GTK_BOX (box), button);
    }
  gtk_widget_add_css_class (more, "flat");
  gtk_widget_add_css_class (more, "circular");
  gtk_widget_set_tooltip_text (more, _("More Reactions"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (more), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("More Reactions"), -1);
  g_signal_connect_swapped (more, "clicked", G_CALLBACK (more_clicked_cb), self);
  gtk_box_append (GTK_BOX (box), more);
  gtk_popover_set_child (GTK_POPOVER (self), box);
  gtk_popover_set_has_arrow (GTK_POPOVER (self), FALSE);
}

GtkWidget *
natter_reaction_picker_new (void)
{
  return g_object_new (NATTER_TYPE_REACTION_PICKER, NULL);
}
