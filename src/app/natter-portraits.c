/* natter-portraits.c — users' and groups' pictures for avatars
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-portraits.h"
#include "natter-avatar.h"

#define URI_KEY "natter-portrait-uri"
/* Pixels kept per picture: an avatar is at most 128 px, twice on HiDPI. */
#define PORTRAIT_MAX_SIDE 256
/* Textures kept; a long conversation list scrolls through many. */
#define MAX_TEXTURES 500

struct _NatterPortraits
{
  GObject parent_instance;

  NatterClient *client;
  GHashTable *textures;   /* uri → GdkTexture */
  GHashTable *pending;    /* uri → GPtrArray of GWeakRef* to an avatar */
  GHashTable *failed;     /* uri set: not tried again this session */
};

G_DEFINE_FINAL_TYPE (NatterPortraits, natter_portraits, G_TYPE_OBJECT)

static void
weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

static void
set_image (GtkWidget    *avatar,
           GdkPaintable *image)
{
  g_object_set (avatar, "custom-image", image, NULL);
}

static gboolean
has_image (GtkWidget *avatar)
{
  g_autoptr(GdkPaintable) image = NULL;

  g_object_get (avatar, "custom-image", &image, NULL);
  return image != NULL;
}

static void
set_on_waiting (NatterPortraits *self,
                const char      *uri,
                GdkTexture      *texture)
{
  GPtrArray *waiting = g_hash_table_lookup (self->pending, uri);

  for (guint i = 0; waiting != NULL && i < waiting->len; i++)
    {
      g_autoptr(GtkWidget) avatar = g_weak_ref_get (g_ptr_array_index (waiting, i));

      /* still wants this picture? */
      if (avatar != NULL && g_strcmp0 (g_object_get_data (G_OBJECT (avatar), URI_KEY), uri) == 0)
        set_image (avatar, GDK_PAINTABLE (texture));
    }
  g_hash_table_remove (self->pending, uri);
}

typedef struct {
  NatterPortraits *self;
  char *uri;
} Load;

static void
load_free (Load *load)
{
  g_object_unref (load->self);
  g_free (load->uri);
  g_free (load);
}

static void
failed (Load *load)
{
  g_hash_table_add (load->self->failed, g_strdup (load->uri));
  g_hash_table_remove (load->self->pending, load->uri);
  load_free (load);
}

/* Anyone can set a portrait URL: decoded off the main thread, and only
 * as a PNG, JPEG, WebP or GIF of sane dimensions (natter-image.h). */
static void
decoded_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Load *load = user_data;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  pixbuf = natter_image_decode_finish (result, &error);
  if (pixbuf == NULL)
    {
      g_debug ("portrait %s: %s", load->uri, error->message);
      failed (load);
      return;
    }
  texture = gdk_texture_new_for_pixbuf (pixbuf);
  if (g_hash_table_size (load->self->textures) >= MAX_TEXTURES)
    g_hash_table_remove_all (load->self->textures);
  g_hash_table_insert (load->self->textures, g_strdup (load->uri), g_object_ref (texture));
  set_on_waiting (load->self, load->uri, texture);
  load_free (load);
}

static void
downloaded_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Load *load = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  if (file == NULL)
    {
      g_debug ("portrait %s: %s", load->uri, error->message);
      failed (load);
      return;
    }
  natter_image_decode_file_async (file, natter_media_kind_max_size (NATTER_MEDIA_KIND_PORTRAIT),
                                  PORTRAIT_MAX_SIDE, NULL, decoded_cb, load);
}

void
natter_portraits_apply (NatterPortraits *self,
                        GtkWidget       *avatar,
                        const char      *uri)
{
  GdkTexture *texture;
  GPtrArray *waiting;
  GWeakRef *ref;

  g_return_if_fail (NATTER_IS_PORTRAITS (self));
  g_return_if_fail (ADW_IS_AVATAR (avatar) || NATTER_IS_AVATAR (avatar));

  if (g_strcmp0 (g_object_get_data (G_OBJECT (avatar), URI_KEY), uri) == 0 &&
      (uri == NULL || has_image (avatar)))
    return;

  g_object_set_data_full (G_OBJECT (avatar), URI_KEY, g_strdup (uri), g_free);
  if (uri == NULL || *uri == '\0' || g_hash_table_contains (self->failed, uri))
    {
      set_image (avatar, NULL);
      return;
    }

  texture = g_hash_table_lookup (self->textures, uri);
  set_image (avatar, texture != NULL ? GDK_PAINTABLE (texture) : NULL);
  if (texture != NULL)
    return;

  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, avatar);
  waiting = g_hash_table_lookup (self->pending, uri);
  if (waiting != NULL)
    {
      g_ptr_array_add (waiting, ref);
      return;
    }
  waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) weak_ref_free);
  g_ptr_array_add (waiting, ref);
  g_hash_table_insert (self->pending, g_strdup (uri), waiting);

  {
    Load *load = g_new0 (Load, 1);
    load->self = g_object_ref (self);
    load->uri = g_strdup (uri);
    natter_client_download_media_async (self->client, uri, NATTER_MEDIA_KIND_PORTRAIT, NULL, NULL,
                                        NULL, downloaded_cb, load);
  }
}

static void
natter_portraits_finalize (GObject *object)
{
  NatterPortraits *self = (NatterPortraits *) object;

  g_clear_object (&self->client);
  g_hash_table_unref (self->textures);
  g_hash_table_unref (self->pending);
  g_hash_table_unref (self->failed);

  G_OBJECT_CLASS (natter_portraits_parent_class)->finalize (object);
}

static void
natter_portraits_class_init (NatterPortraitsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natter_portraits_finalize;
}

static void
natter_portraits_init (NatterPortraits *self)
{
  self->textures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_ptr_array_unref);
  self->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

NatterPortraits *
natter_portraits_new (NatterClient *client)
{
  NatterPortraits *self;

  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  self = g_object_new (NATTER_TYPE_PORTRAITS, NULL);
  self->client = g_object_ref (client);
  return self;
}

NatterClient *
natter_portraits_get_client (NatterPortraits *self)
{
  g_return_val_if_fail (NATTER_IS_PORTRAITS (self), NULL);
  return self->client;
}
