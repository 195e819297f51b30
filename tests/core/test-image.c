/* test-image.c — images from strangers: only PNG, JPEG, WebP and GIF, told
 * by their bytes, their size checked before their pixels are decoded
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <string.h>

#include "natter.h"
#include "test-helpers.h"

/* ------------------------------------------------------- crafted files */

static guint32
crc32_of (const guint8 *data,
          gsize         length,
          guint32       crc)
{
  crc = ~crc;
  for (gsize i = 0; i < length; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
  return ~crc;
}

static void
append_be32 (GByteArray *array,
             guint32     value)
{
  guint8 bytes[4] = { value >> 24, value >> 16, value >> 8, value };

  g_byte_array_append (array, bytes, 4);
}

static void
append_png_chunk (GByteArray   *png,
                  const char   *type,
                  const guint8 *data,
                  gsize         length)
{
  guint32 crc;

  append_be32 (png, length);
  g_byte_array_append (png, (const guint8 *) type, 4);
  g_byte_array_append (png, data, length);
  crc = crc32_of ((const guint8 *) type, 4, 0);
  crc = crc32_of (data, length, crc);
  append_be32 (png, crc);
}

/* A well-formed PNG header that claims @width × @height; the pixel data is
 * a few bytes (what a decoder would inflate into a huge buffer). */
static GBytes *
png_claiming (guint32 width,
              guint32 height)
{
  static const guint8 signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  /* zlib of four zero bytes */
  static const guint8 idat[] = { 0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01 };
  GByteArray *png = g_byte_array_new ();
  GByteArray *ihdr = g_byte_array_new ();

  g_byte_array_append (png, signature, sizeof signature);
  append_be32 (ihdr, width);
  append_be32 (ihdr, height);
  g_byte_array_append (ihdr, (const guint8 *) "\x08\x02\x00\x00\x00", 5);   /* 8-bit RGB */
  append_png_chunk (png, "IHDR", ihdr->data, ihdr->len);
  append_png_chunk (png, "IDAT", idat, sizeof idat);
  append_png_chunk (png, "IEND", NULL, 0);
  g_byte_array_unref (ihdr);
  return g_byte_array_free_to_bytes (png);
}

/* A baseline JPEG header (DQT, SOF0 with one component, SOS) that claims
 * the size. */
static GBytes *
jpeg_claiming (guint16 width,
               guint16 height)
{
  GByteArray *jpeg = g_byte_array_new ();
  const guint8 sof[] = { 0xff, 0xc0, 0x00, 0x0b, 0x08, height >> 8, height & 0xff,
                         width >> 8, width & 0xff, 0x01, 0x01, 0x11, 0x00 };
  const guint8 sos[] = { 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0xff, 0xd9 };

  g_byte_array_append (jpeg, (const guint8 *) "\xff\xd8\xff\xdb\x00\x43\x00", 7);
  for (int i = 0; i < 64; i++)
    g_byte_array_append (jpeg, (const guint8 *) "\x01", 1);
  g_byte_array_append (jpeg, sof, sizeof sof);
  g_byte_array_append (jpeg, sos, sizeof sos);
  return g_byte_array_free_to_bytes (jpeg);
}

/* A GIF of @screen_w × @screen_h whose (one or two) images are
 * @frame_w × @frame_h, one pixel of LZW data each. */
static GBytes *
gif_with (guint16 screen_w,
          guint16 screen_h,
          guint16 frame_w,
          guint16 frame_h,
          guint   frames)
{
  GByteArray *gif = g_byte_array_new ();
  const guint8 header[] = { 'G', 'I', 'F', '8', '9', 'a',
                            screen_w & 0xff, screen_w >> 8, screen_h & 0xff, screen_h >> 8,
                            0x80, 0x00, 0x00,
                            0xff, 0x00, 0x00, 0x00, 0x00, 0xff };   /* 2-colour table */
  const guint8 image[] = { 0x2c, 0x00, 0x00, 0x00, 0x00,
                           frame_w & 0xff, frame_w >> 8, frame_h & 0xff, frame_h >> 8, 0x00,
                           0x02, 0x02, 0x44, 0x01, 0x00 };

  g_byte_array_append (gif, header, sizeof header);
  for (guint i = 0; i < frames; i++)
    g_byte_array_append (gif, image, sizeof image);
  g_byte_array_append (gif, (const guint8 *) "\x3b", 1);
  return g_byte_array_free_to_bytes (gif);
}

static GBytes *
saved_pixbuf (const char *type,
              int         width,
              int         height)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  g_autoptr(GError) error = NULL;
  char *buffer = NULL;
  gsize size = 0;

  gdk_pixbuf_fill (pixbuf, 0x3070c0ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, type, &error, NULL));
  g_assert_no_error (error);
  return g_bytes_new_take (buffer, size);
}

static const char svg_payload[] =
  "<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'>"
  "<rect width='64' height='64' fill='red'/></svg>";
static const char xpm_payload[] =
  "/* XPM */\nstatic char *x[] = {\n\"2 2 1 1\",\n\"a c #ff0000\",\n\"aa\",\n\"aa\"};\n";

static GBytes *
tga_payload (void)
{
  /* uncompressed true colour, 2 × 2, 24 bits, top-left origin */
  static const guint8 tga[] = { 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 24, 0x20,
                                0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255 };

  return g_bytes_new_static (tga, sizeof tga);
}

static GBytes *
ico_payload (void)
{
  GByteArray *ico = g_byte_array_new ();
  /* one 1 × 1 32-bit image: directory, BITMAPINFOHEADER (height doubled
   * for the AND mask), one BGRA pixel, one row of mask */
  static const guint8 head[] = { 0, 0, 1, 0, 1, 0,
                                 1, 1, 0, 0, 1, 0, 32, 0, 48, 0, 0, 0, 22, 0, 0, 0 };
  static const guint8 bitmap[] = { 40, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 32, 0,
                                   0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 255, 255,
                                   0, 0, 0, 0 };

  g_byte_array_append (ico, head, sizeof head);
  g_byte_array_append (ico, bitmap, sizeof bitmap);
  return g_byte_array_free_to_bytes (ico);
}

static GdkPixbuf *
decode (GBytes  *bytes,
        guint64  max_pixels,
        int      max_side,
        GError **error)
{
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (bytes);

  return natter_image_decode_stream (stream, 2 * 1024 * 1024, max_pixels, max_side, NULL, error);
}

/* What gdk-pixbuf makes of @bytes left to itself (any loader it picks). */
static gboolean
gdk_pixbuf_would_decode (GBytes *bytes)
{
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (bytes);
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new_from_stream (stream, NULL, NULL);

  return pixbuf != NULL;
}

/* ------------------------------------------------------------------ tests */

static void
test_sniff (void)
{
  g_autoptr(GBytes) png = saved_pixbuf ("png", 4, 4);
  g_autoptr(GBytes) jpeg = saved_pixbuf ("jpeg", 4, 4);
  g_autoptr(GBytes) gif = gif_with (1, 1, 1, 1, 1);

  g_assert_cmpstr (natter_image_sniff (g_bytes_get_data (png, NULL), g_bytes_get_size (png)), ==, "png");
  g_assert_cmpstr (natter_image_sniff (g_bytes_get_data (jpeg, NULL), g_bytes_get_size (jpeg)), ==, "jpeg");
  g_assert_cmpstr (natter_image_sniff (g_bytes_get_data (gif, NULL), g_bytes_get_size (gif)), ==, "gif");
  g_assert_cmpstr (natter_image_sniff ((const guint8 *) "RIFF\x10\0\0\0WEBPVP8 ", 16), ==, "webp");
  g_assert_null (natter_image_sniff ((const guint8 *) "RIFF\x10\0\0\0WAVEfmt ", 16));
  g_assert_null (natter_image_sniff ((const guint8 *) svg_payload, strlen (svg_payload)));
  g_assert_null (natter_image_sniff ((const guint8 *) xpm_payload, strlen (xpm_payload)));
  g_assert_null (natter_image_sniff ((const guint8 *) "\x89PNG", 4));   /* cut short */
  g_assert_null (natter_image_sniff (NULL, 0));
}

static void
test_good_images (void)
{
  const char *types[] = { "png", "jpeg" };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(GBytes) bytes = saved_pixbuf (types[i], 640, 480);
      g_autoptr(GdkPixbuf) full = NULL;
      g_autoptr(GdkPixbuf) scaled = NULL;
      g_autoptr(GError) error = NULL;

      full = decode (bytes, NATTER_IMAGE_MAX_PIXELS, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpint (gdk_pixbuf_get_width (full), ==, 640);
      g_assert_cmpint (gdk_pixbuf_get_height (full), ==, 480);

      /* scaled down in the loader, the aspect kept */
      scaled = decode (bytes, NATTER_IMAGE_MAX_PIXELS, 64, &error);
      g_assert_no_error (error);
      g_assert_cmpint (gdk_pixbuf_get_width (scaled), ==, 64);
      g_assert_cmpint (gdk_pixbuf_get_height (scaled), ==, 48);
    }

  /* an animation: its first picture */
  {
    g_autoptr(GBytes) gif = gif_with (3, 2, 3, 2, 2);
    g_autoptr(GdkPixbuf) pixbuf = NULL;
    g_autoptr(GError) error = NULL;

    pixbuf = decode (gif, NATTER_IMAGE_MAX_PIXELS, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 3);
    g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, 2);
  }
}

/* The size from the header alone: gdk-pixbuf's JPEG (with its JFIF APP0
 * before the frame header), a PNG, hand-made headers; nothing from
 * truncated or foreign bytes (#17). */
static void
test_peek_size (void)
{
  const char *types[] = { "png", "jpeg" };
  int width = 0, height = 0;

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(GBytes) bytes = saved_pixbuf (types[i], 240, 180);
      gsize length;
      const guint8 *data = g_bytes_get_data (bytes, &length);

      g_assert_true (natter_image_peek_size (data, length, &width, &height));
      g_assert_cmpint (width, ==, 240);
      g_assert_cmpint (height, ==, 180);
      /* the header cut off */
      g_assert_false (natter_image_peek_size (data, 20, &width, &height));
    }
  {
    g_autoptr(GBytes) jpeg = jpeg_claiming (4000, 3000);
    g_autoptr(GBytes) png = png_claiming (7, 9);
    g_autoptr(GBytes) gif = gif_with (3, 2, 3, 2, 1);
    g_autoptr(GBytes) zero = jpeg_claiming (0, 10);
    gsize length;
    const guint8 *data;

    data = g_bytes_get_data (jpeg, &length);
    g_assert_true (natter_image_peek_size (data, length, &width, &height));
    g_assert_cmpint (width, ==, 4000);
    g_assert_cmpint (height, ==, 3000);
    data = g_bytes_get_data (png, &length);
    g_assert_true (natter_image_peek_size (data, length, &width, &height));
    g_assert_cmpint (width, ==, 7);
    g_assert_cmpint (height, ==, 9);
    data = g_bytes_get_data (gif, &length);
    g_assert_false (natter_image_peek_size (data, length, &width, &height));
    data = g_bytes_get_data (zero, &length);
    g_assert_false (natter_image_peek_size (data, length, &width, &height));
    g_assert_false (natter_image_peek_size ((const guint8 *) "\xff\xd8\xff\xe0\x00\x01", 6, &width, &height));
  }
}

/* Loaders gdk-pixbuf has and would run on these bytes: never reached. */
static void
test_other_formats_refused (void)
{
  g_autoptr(GBytes) svg = g_bytes_new_static (svg_payload, strlen (svg_payload));
  g_autoptr(GBytes) xpm = g_bytes_new_static (xpm_payload, strlen (xpm_payload));
  g_autoptr(GBytes) tga = tga_payload ();
  g_autoptr(GBytes) ico = ico_payload ();
  g_autoptr(GBytes) text = g_bytes_new_static ("not an image at all\n", 20);
  g_autoptr(GBytes) bmp = saved_pixbuf ("bmp", 4, 4);
  GBytes *payloads[] = { svg, xpm, tga, ico, bmp, text };
  const char *names[] = { "SVG", "XPM", "TGA", "ICO", "BMP", "text" };

  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = NULL;

      g_test_message ("%s", names[i]);
      /* a payload gdk-pixbuf itself accepts (the test means something) */
      if (payloads[i] != text)
        g_assert_true (gdk_pixbuf_would_decode (payloads[i]));
      pixbuf = decode (payloads[i], NATTER_IMAGE_MAX_PIXELS, 0, &error);
      g_assert_null (pixbuf);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    }
}

/* Headers that promise more pixels than allowed are refused before a
 * pixel buffer exists: the error is the size, not the loader's. */
static void
test_dimensions_checked_first (void)
{
  struct {
    const char *what;
    GBytes *bytes;
  } bombs[] = {
    { "PNG 100000 × 100000", png_claiming (100000, 100000) },
    { "PNG 8000 × 6000", png_claiming (8000, 6000) },
    { "JPEG 60000 × 60000", jpeg_claiming (60000, 60000) },
    { "GIF screen 60000 × 60000", gif_with (60000, 60000, 1, 1, 1) },
    { "GIF 10 × 10 with an 8000 × 8000 frame", gif_with (10, 10, 8000, 8000, 1) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bombs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = NULL;
      gint64 start = g_get_monotonic_time ();

      g_test_message ("%s", bombs[i].what);
      pixbuf = decode (bombs[i].bytes, NATTER_IMAGE_MAX_PIXELS, 0, &error);
      g_assert_null (pixbuf);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      g_assert_nonnull (strstr (error->message, "megapixels"));
      /* nothing was inflated */
      g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
      g_bytes_unref (bombs[i].bytes);
    }

  /* the same header within the limit is read (and found cut short) */
  {
    g_autoptr(GBytes) small = png_claiming (20, 10);
    g_autoptr(GError) error = NULL;
    g_autoptr(GdkPixbuf) pixbuf = decode (small, NATTER_IMAGE_MAX_PIXELS, 0, &error);

    g_assert_false (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE));
    g_assert_false (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED));
  }

  /* a limit the caller gives */
  {
    g_autoptr(GBytes) png = saved_pixbuf ("png", 300, 200);
    g_autoptr(GError) error = NULL;
    g_autoptr(GdkPixbuf) pixbuf = decode (png, 300 * 200 - 1, 0, &error);

    g_assert_null (pixbuf);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  }
}

static void
test_bytes_capped (void)
{
  g_autoptr(GBytes) png = saved_pixbuf ("png", 400, 400);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (png);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;

  pixbuf = natter_image_decode_stream (stream, g_bytes_get_size (png) - 1, NATTER_IMAGE_MAX_PIXELS, 0,
                                       NULL, &error);
  g_assert_null (pixbuf);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
}

static void
test_async (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natter-image-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "picture.png", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GBytes) png = saved_pixbuf ("png", 50, 40);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png), NULL));
  natter_image_decode_file_async (file, 1024 * 1024, 0, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  pixbuf = natter_image_decode_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 50);
  g_clear_object (&result);
  g_clear_object (&pixbuf);

  /* an SVG with a .png name */
  g_assert_true (g_file_set_contents (path, svg_payload, -1, NULL));
  natter_image_decode_file_async (file, 1024 * 1024, 0, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_null (natter_image_decode_finish (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_object (&result);
  g_clear_error (&error);

  natter_image_decode_bytes_async (png, 10, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  pixbuf = natter_image_decode_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 10);

  g_remove (path);
  g_rmdir (dir);
}

/* The thumbnail of an image to send reads the file by the same rules: a
 * file saved from a chat is a stranger's. */
static void
test_thumbnail_refuses (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natter-image-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "holiday.png", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GBytes) bomb = png_claiming (9000, 9000);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, svg_payload, -1, NULL));
  natter_image_thumbnail_new_async (file, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_null (natter_image_thumbnail_new_finish (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_object (&result);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bomb, NULL), g_bytes_get_size (bomb), NULL));
  natter_image_thumbnail_new_async (file, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_null (natter_image_thumbnail_new_finish (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);

  g_remove (path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/image/sniff", test_sniff);
  g_test_add_func ("/image/good-images", test_good_images);
  g_test_add_func ("/image/peek-size", test_peek_size);
  g_test_add_func ("/image/other-formats-refused", test_other_formats_refused);
  g_test_add_func ("/image/dimensions-checked-first", test_dimensions_checked_first);
  g_test_add_func ("/image/bytes-capped", test_bytes_capped);
  g_test_add_func ("/image/async", test_async);
  g_test_add_func ("/image/thumbnail-refuses", test_thumbnail_refuses);

  return g_test_run ();
}
