/* natter-avatar.c — a sender's round avatar in a message row
 *
 * AdwAvatar looks as this one does, but its initials are a GtkLabel whose
 * font size it computes from the label's own layout whenever its text or
 * root changes: at each bind, before the frame's style pass, it forced the
 * row's styles to be computed, 7.8 M of the 10.1 M instructions of binding
 * a chat's rows (#17). Here the initials are drawn, in the colours of
 * libadwaita 1.2's avatar (the same colour for the same name), from a
 * render node made once per (initials, colour, font) and kept; one widget,
 * no children, nothing laid out at bind.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-avatar.h"

#define N_COLOURS 14
/* cached initials, at most: a chat has a few senders */
#define MAX_NODES 256

struct _NatterAvatar
{
  GtkWidget parent_instance;

  int size;
  char *text;
  char *initials;
  guint colour;            /* 1…N_COLOURS, as AdwAvatar's "colorN" */
  GdkPaintable *custom_image;
  /* the initials' node drawn last and what it was made for: the next
   * frames draw it again without building the cache's key (#17) */
  GskRenderNode *node;
  int node_size;
  PangoFontDescription *node_font;
};

G_DEFINE_FINAL_TYPE (NatterAvatar, natter_avatar, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_TEXT,
  PROP_CUSTOM_IMAGE,
  PROP_SIZE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* libadwaita 1.2's avatar.colorN: background gradient top, bottom, text */
static const char * const palette[N_COLOURS][3] = {
  { "#83b6ec", "#337fdc", "#cfe1f5" },
  { "#7ad9f1", "#0f9ac8", "#caeaf2" },
  { "#8de6b1", "#29ae74", "#cef8d8" },
  { "#b5e98a", "#6ab85b", "#e6f9d7" },
  { "#f8e359", "#d29d09", "#f9f4e1" },
  { "#ffcb62", "#d68400", "#ffead1" },
  { "#ffa95a", "#ed5b00", "#ffe5c5" },
  { "#f78773", "#e62d42", "#f8d2ce" },
  { "#e973ab", "#e33b6a", "#fac7de" },
  { "#cb78d4", "#9945b5", "#e7c2e8" },
  { "#9e91e8", "#7a59ca", "#d5d2f5" },
  { "#e3cf9c", "#b08952", "#f2eade" },
  { "#be916d", "#785336", "#e5d6ca" },
  { "#c0bfbc", "#6e6d71", "#d8d7d3" },
};

/* key "size:colour:font:initials" → GskRenderNode, for every avatar */
static GHashTable *nodes;

/* The first letter of the first and of the last word, as AdwAvatar. */
static char *
initials_of (const char *text)
{
  g_autofree char *upper = g_utf8_strup (text, -1);
  g_autofree char *normalized = g_utf8_normalize (g_strstrip (upper), -1, G_NORMALIZE_DEFAULT_COMPOSE);
  GString *initials;
  const char *last;

  if (normalized == NULL || *normalized == '\0')
    return NULL;
  initials = g_string_new (NULL);
  g_string_append_unichar (initials, g_utf8_get_char (normalized));
  last = g_utf8_strrchr (normalized, -1, ' ');
  if (last != NULL && g_utf8_get_char (g_utf8_next_char (last)) != 0)
    g_string_append_unichar (initials, g_utf8_get_char (g_utf8_next_char (last)));
  return g_string_free (initials, FALSE);
}

/* The circle and the initials, scaled as AdwAvatar scales them: to the
 * biggest square inside the circle, less a padding that grows with it. */
static GskRenderNode *
make_node (NatterAvatar *self,
           float         size)
{
  const char * const *colours = palette[self->colour - 1];
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), self->initials);
  g_autoptr(PangoAttrList) attrs = pango_attr_list_new ();
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  GskColorStop stops[2];
  GdkRGBA fg;
  GskRoundedRect circle;
  double max_side = size / 1.4142 - MAX (size * 0.4 - 5, 0);
  int width, height;

  pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  pango_layout_set_attributes (layout, attrs);
  pango_layout_get_pixel_size (layout, &width, &height);
  if (width > 0)
    {
      double font = CLAMP ((double) height * max_side / width, 0, max_side);
      /* a new list: Pango ignores one equal to the layout's */
      g_autoptr(PangoAttrList) sized = pango_attr_list_copy (attrs);

      pango_attr_list_insert (sized, pango_attr_size_new_absolute ((int) (font * PANGO_SCALE)));
      pango_layout_set_attributes (layout, sized);
      pango_layout_get_pixel_size (layout, &width, &height);
    }

  gdk_rgba_parse (&stops[0].color, colours[0]);
  stops[0].offset = 0;
  gdk_rgba_parse (&stops[1].color, colours[1]);
  stops[1].offset = 1;
  gdk_rgba_parse (&fg, colours[2]);
  gsk_rounded_rect_init_from_rect (&circle, &GRAPHENE_RECT_INIT (0, 0, size, size), size / 2);
  gtk_snapshot_push_rounded_clip (snapshot, &circle);
  gtk_snapshot_append_linear_gradient (snapshot, &GRAPHENE_RECT_INIT (0, 0, size, size),
                                       &GRAPHENE_POINT_INIT (0, 0), &GRAPHENE_POINT_INIT (0, size),
                                       stops, G_N_ELEMENTS (stops));
  gtk_snapshot_pop (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((size - width) / 2.f, (size - height) / 2.f));
  gtk_snapshot_append_layout (snapshot, layout, &fg);
  return gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
}

static void
forget_node (NatterAvatar *self)
{
  g_clear_pointer (&self->node, gsk_render_node_unref);
  g_clear_pointer (&self->node_font, pango_font_description_free);
}

static gboolean
same_font (const PangoFontDescription *a,
           const PangoFontDescription *b)
{
  return a == b || (a != NULL && b != NULL && pango_font_description_equal (a, b));
}

static GskRenderNode *
initials_node (NatterAvatar *self,
               int           size)
{
  const PangoFontDescription *font = pango_context_get_font_description (gtk_widget_get_pango_context (GTK_WIDGET (self)));
  g_autofree char *font_name = NULL;
  g_autofree char *key = NULL;
  GskRenderNode *node;

  if (self->node != NULL && self->node_size == size && same_font (self->node_font, font))
    return self->node;

  font_name = font != NULL ? pango_font_description_to_string (font) : NULL;
  key = g_strdup_printf ("%d:%u:%s:%s", size, self->colour, font_name, self->initials);
  if (nodes == NULL)
    nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) gsk_render_node_unref);
  node = g_hash_table_lookup (nodes, key);
  if (node == NULL)
    {
      if (g_hash_table_size (nodes) >= MAX_NODES)
        g_hash_table_remove_all (nodes);
      node = make_node (self, size);
      g_hash_table_insert (nodes, g_steal_pointer (&key), node);
    }
  forget_node (self);
  self->node = gsk_render_node_ref (node);
  self->node_size = size;
  self->node_font = font != NULL ? pango_font_description_copy (font) : NULL;
  return node;
}

static void
natter_avatar_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  NatterAvatar *self = NATTER_AVATAR (widget);
  int size = MIN (gtk_widget_get_width (widget), gtk_widget_get_height (widget));
  GskRoundedRect circle;

  if (size <= 0)
    return;
  if (self->custom_image != NULL)
    {
      double ratio = gdk_paintable_get_intrinsic_aspect_ratio (self->custom_image);
      float w = size, h = size;

      /* covering the circle, centred, as AdwAvatar crops it */
      if (ratio > 1)
        w = size * ratio;
      else if (ratio > 0 && ratio < 1)
        h = size / ratio;
      gsk_rounded_rect_init_from_rect (&circle, &GRAPHENE_RECT_INIT (0, 0, size, size), size / 2);
      gtk_snapshot_push_rounded_clip (snapshot, &circle);
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((size - w) / 2, (size - h) / 2));
      gdk_paintable_snapshot (self->custom_image, snapshot, w, h);
      gtk_snapshot_restore (snapshot);
      gtk_snapshot_pop (snapshot);
    }
  else if (self->initials != NULL)
    gtk_snapshot_append_node (snapshot, initials_node (self, size));
}

static void
natter_avatar_measure (GtkWidget      *widget,
                       GtkOrientation  orientation,
                       int             for_size,
                       int            *minimum,
                       int            *natural,
                       int            *minimum_baseline,
                       int            *natural_baseline)
{
  NatterAvatar *self = NATTER_AVATAR (widget);

  *minimum = *natural = self->size;
}

static void
image_invalidated_cb (NatterAvatar *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
natter_avatar_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  NatterAvatar *self = NATTER_AVATAR (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    case PROP_CUSTOM_IMAGE:
      g_value_set_object (value, self->custom_image);
      break;
    case PROP_SIZE:
      g_value_set_int (value, self->size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_avatar_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  NatterAvatar *self = NATTER_AVATAR (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      natter_avatar_set_text (self, g_value_get_string (value));
      break;
    case PROP_CUSTOM_IMAGE:
      natter_avatar_set_custom_image (self, g_value_get_object (value));
      break;
    case PROP_SIZE:
      self->size = g_value_get_int (value);
      gtk_widget_queue_resize (GTK_WIDGET (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_avatar_dispose (GObject *object)
{
  natter_avatar_set_custom_image (NATTER_AVATAR (object), NULL);
  G_OBJECT_CLASS (natter_avatar_parent_class)->dispose (object);
}

static void
natter_avatar_finalize (GObject *object)
{
  NatterAvatar *self = NATTER_AVATAR (object);

  g_free (self->text);
  g_free (self->initials);
  forget_node (self);
  G_OBJECT_CLASS (natter_avatar_parent_class)->finalize (object);
}

static void
natter_avatar_class_init (NatterAvatarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = natter_avatar_get_property;
  object_class->set_property = natter_avatar_set_property;
  object_class->dispose = natter_avatar_dispose;
  object_class->finalize = natter_avatar_finalize;
  widget_class->snapshot = natter_avatar_snapshot;
  widget_class->measure = natter_avatar_measure;

  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /* the property natter_portraits_apply() sets, as on an AdwAvatar */
  properties[PROP_CUSTOM_IMAGE] =
    g_param_spec_object ("custom-image", NULL, NULL, GDK_TYPE_PAINTABLE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SIZE] =
    g_param_spec_int ("size", NULL, NULL, 0, G_MAXINT, 34,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "natter-avatar");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
natter_avatar_init (NatterAvatar *self)
{
  self->size = 34;
  self->colour = 1;
}

GtkWidget *
natter_avatar_new (int size)
{
  return g_object_new (NATTER_TYPE_AVATAR, "size", size, NULL);
}

const char *
natter_avatar_get_text (NatterAvatar *self)
{
  g_return_val_if_fail (NATTER_IS_AVATAR (self), NULL);
  return self->text;
}

/* The text (a name) gives the initials and the colour. */
void
natter_avatar_set_text (NatterAvatar *self,
                        const char   *text)
{
  g_return_if_fail (NATTER_IS_AVATAR (self));

  if (g_strcmp0 (self->text, text) == 0)
    return;
  g_free (self->text);
  self->text = g_strdup (text);
  g_clear_pointer (&self->initials, g_free);
  forget_node (self);
  if (text != NULL && *text != '\0')
    {
      /* Translators: %s is a person's name */
      g_autofree char *label = g_strdup_printf (_("Avatar of %s"), text);

      self->initials = initials_of (text);
      /* as AdwAvatar picks it: the same name, the same colour */
      self->colour = g_str_hash (text) % N_COLOURS + 1;
      gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
    }
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

/* The initials drawn without a picture, or NULL. */
const char *
natter_avatar_get_initials (NatterAvatar *self)
{
  g_return_val_if_fail (NATTER_IS_AVATAR (self), NULL);
  return self->initials;
}

GdkPaintable *
natter_avatar_get_custom_image (NatterAvatar *self)
{
  g_return_val_if_fail (NATTER_IS_AVATAR (self), NULL);
  return self->custom_image;
}

void
natter_avatar_set_custom_image (NatterAvatar *self,
                                GdkPaintable *image)
{
  g_return_if_fail (NATTER_IS_AVATAR (self));
  g_return_if_fail (image == NULL || GDK_IS_PAINTABLE (image));

  if (self->custom_image == image)
    return;
  if (self->custom_image != NULL)
    g_signal_handlers_disconnect_by_func (self->custom_image, image_invalidated_cb, self);
  g_set_object (&self->custom_image, image);
  if (image != NULL)
    g_signal_connect_swapped (image, "invalidate-contents", G_CALLBACK (image_invalidated_cb), self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CUSTOM_IMAGE]);
}
