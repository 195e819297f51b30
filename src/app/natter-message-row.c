/* natter-message-row.c — one message in the chat: a bubble, or a notice
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <adwaita.h>
#include <glib/gi18n.h>

#include "natter-avatar.h"
#include "natter-format.h"
#include "natter-format-accounts.h"
#include "natter-message-row.h"
#include "natter-reaction-bar.h"
#include "natter-reaction-picker.h"
#include "natter-thumbnail-cache.h"
#include "natter-voice-player.h"

/* Messages of one sender closer than this form one group. */
#define GROUP_GAP_MS (5 * 60 * 1000)
/* The avatar (34 px) and the spacing (8 px) before a bubble. */
#define AVATAR_ROOM (34 + 8)

struct _NatterMessageRow
{
  GtkWidget parent_instance;

  NatterClient *client;
  NatterMessage *message;
  gulong notify_id;
  guint flash_id;

  GtkLabel *day_label;
  GtkWidget *unread_label;
  GtkLabel *notice_label;
  GtkWidget *message_box;
  GtkWidget *retry_button;
  NatterAvatar *avatar;
  GtkWidget *bubble;
  GtkLabel *sender_label;
  AdwBin *content_bin;
  GtkWidget *meta_box;
  GtkLabel *time_label;
  GtkImage *status_icon;
  GtkWidget *menu;
  GtkWidget *text_label;   /* kept across messages, see text_content() */
  GCancellable *thumbnail_cancellable;   /* the image message's thumbnail being decoded */
  GtkWidget *picture;      /* an image message's thumbnail, kept across messages */
  NatterPortraits *portraits;
  NatterMessage *previous;   /* the message above at the binding */
  guint bindings;
  gboolean group_start;
  gboolean show_sender;
  GtkWidget *read_by_button;   /* "Read by N" under one's own group message */
  GtkLabel *read_by_names;

  /* message actions (#16), see build_action_widgets() */
  GtkWidget *quote_box;         /* a reply's quoted message: sender and one line */
  GtkLabel *quote_sender;
  GtkLabel *quote_text;
  GtkWidget *edited_label;
  GtkWidget *reaction_bar;
  GtkWidget *more_button;       /* the hover "…" */
  GtkWidget *picker;
  GCancellable *quote_cancellable;
  NatterStore *quote_store;     /* watched for the quoted message's recall */
  gulong quote_updated_id;
  GdkRectangle menu_at;

  /* media progress (#16), see build_transfer_widgets() */
  GtkWidget *transfer_box;      /* under the content: a bar and a cancel button */
  GtkProgressBar *transfer_bar;
  GCancellable *download_cancellable;  /* the file being downloaded to open */
  gulong upload_progress_id;    /* on the client: the outbox's uploads */
};

G_DEFINE_FINAL_TYPE (NatterMessageRow, natter_message_row, GTK_TYPE_WIDGET)

/* gtk_widget_set_tooltip_text() asks the display where the pointer is (on
 * X11 a round trip to the server) on every call, and a row binds several
 * per message: opening a chat waited on dozens of them (#17). The text is
 * kept on the widget and handed out when GTK asks for it. */
static gboolean
query_tooltip_cb (GtkWidget  *widget,
                  int         x,
                  int         y,
                  gboolean    keyboard,
                  GtkTooltip *tooltip,
                  gpointer    user_data)
{
  const char *text = g_object_get_data (G_OBJECT (widget), "natter-tooltip");

  if (text == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

static void
set_tooltip (GtkWidget  *widget,
             const char *text)
{
  if (g_object_get_data (G_OBJECT (widget), "natter-tooltip-cb") == NULL)
    {
      g_signal_connect (widget, "query-tooltip", G_CALLBACK (query_tooltip_cb), NULL);
      g_object_set_data (G_OBJECT (widget), "natter-tooltip-cb", GINT_TO_POINTER (TRUE));
    }
  g_object_set_data_full (G_OBJECT (widget), "natter-tooltip", g_strdup (text), g_free);
  gtk_widget_set_has_tooltip (widget, text != NULL);
  if (text != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
}

/* GtkLabel resizes itself (its row, up to the window) at each
 * set_label, the same text too: a row bound again mostly has it (#17). */
static void
set_label (GtkLabel   *label,
           const char *text)
{
  if (g_strcmp0 (gtk_label_get_label (label), text != NULL ? text : "") != 0)
    gtk_label_set_label (label, text);
}

static gboolean
is_notice (NatterMessage *message)
{
  NatterMessageKind kind = natter_message_get_kind (message);
  return kind == NATTER_MESSAGE_KIND_INFO || kind == NATTER_MESSAGE_KIND_RECALLED ||
         kind == NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION || kind == NATTER_MESSAGE_KIND_GROUP_NOTIFICATION ||
         kind == NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION;
}

static gboolean is_hidden (NatterMessage *message);

/* Protocol messages a chat does not show (a recall command is stored in
 * history, the recalled message itself becomes the notice). */
gboolean
natter_message_row_shows (NatterMessage *message)
{
  return !is_hidden (message);
}

static gboolean
is_hidden (NatterMessage *message)
{
  switch (natter_message_get_kind (message))
    {
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_EDIT_COMMAND:
    case NATTER_MESSAGE_KIND_RECEIPT_REQUEST:
    case NATTER_MESSAGE_KIND_RECEIPT_RESPONSE:
    case NATTER_MESSAGE_KIND_CLEAR_COMMAND:
    case NATTER_MESSAGE_KIND_EXPANSION_COMMAND:
    case NATTER_MESSAGE_KIND_DELETED:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
      return TRUE;
    case NATTER_MESSAGE_KIND_UNSUPPORTED:
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_IMAGE:
    case NATTER_MESSAGE_KIND_VOICE:
    case NATTER_MESSAGE_KIND_HQ_VOICE:
    case NATTER_MESSAGE_KIND_FILE:
    case NATTER_MESSAGE_KIND_INFO:
    case NATTER_MESSAGE_KIND_RECALLED:
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
    default:
      return FALSE;
    }
}

static const char *
sender_name (NatterMessage *message)
{
  const char *name = natter_message_get_sender_name (message);

  if (name != NULL && *name != '\0')
    return name;
  return natter_message_get_sender_user_id (message);
}

/* Plain text as markup, with web addresses made into links. */
static char *
linkify (const char *text)
{
  static GRegex *url_regex;
  g_autoptr(GMatchInfo) match = NULL;
  GString *out = g_string_new (NULL);
  gssize done = 0;

  if (g_once_init_enter (&url_regex))
    g_once_init_leave (&url_regex,
                       g_regex_new ("\\b(?:https?://|www\\.)[^\\s<>\"]+[^\\s<>\".,;:!?)\\]'’”]",
                                    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL));

  g_regex_match (url_regex, text, 0, &match);
  while (g_match_info_matches (match))
    {
      int start, end;
      g_autofree char *before = NULL;
      g_autofree char *url = NULL;
      g_autofree char *href = NULL;
      g_autofree char *shown = NULL;

      g_match_info_fetch_pos (match, 0, &start, &end);
      before = g_markup_escape_text (text + done, start - done);
      url = g_strndup (text + start, end - start);
      href = g_str_has_prefix (url, "www.") ? g_strconcat ("https://", url, NULL) : g_strdup (url);
      g_string_append (out, before);
      shown = g_markup_escape_text (url, -1);
      g_string_append_printf (out, "<a href=\"%s\">%s</a>", href, shown);
      done = end;
      g_match_info_next (match, NULL);
    }
  {
    g_autofree char *rest = g_markup_escape_text (text + done, -1);
    g_string_append (out, rest);
  }
  return g_string_free (out, FALSE);
}

/* TRUE when @text is one short line: at most 30 narrow (or 15 wide)
 * characters, which fit the bubble of the narrowest window. */
static gboolean
is_short_line (const char *text)
{
  guint width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n' || c == '\r')
        return FALSE;
      width += g_unichar_iswide (c) || g_unichar_iswide_cjk (c) ? 2 : 1;
      if (width > 30)
        return FALSE;
    }
  return TRUE;
}

/* Most messages are text: the row keeps its text label from one message
 * to the next instead of building one each time. A wrapping label costs
 * GTK 4.8 several layouts of its text per size request; most messages
 * are short lines that never wrap, so only longer ones wrap (opening a
 * chat: ~15 ms less of the main thread's time). */
static GtkWidget *
text_content (NatterMessageRow *self,
              const char       *text)
{
  g_autofree char *markup = linkify (text != NULL ? text : "");

  if (self->text_label == NULL)
    {
      self->text_label = g_object_ref_sink (gtk_label_new (NULL));
      gtk_label_set_wrap_mode (GTK_LABEL (self->text_label), PANGO_WRAP_WORD_CHAR);
      gtk_label_set_xalign (GTK_LABEL (self->text_label), 0);
      gtk_label_set_max_width_chars (GTK_LABEL (self->text_label), 60);
      gtk_label_set_selectable (GTK_LABEL (self->text_label), TRUE);
      gtk_widget_set_focusable (self->text_label, FALSE);
      gtk_widget_add_css_class (self->text_label, "message-text");
    }
  gtk_label_set_wrap (GTK_LABEL (self->text_label), !is_short_line (text != NULL ? text : ""));
  gtk_label_set_markup (GTK_LABEL (self->text_label), markup);
  return self->text_label;
}

static void
image_clicked_cb (GtkGestureClick *gesture,
                  int              n_press,
                  double           x,
                  double           y,
                  NatterMessageRow *self)
{
  if (self->message == NULL)
    return;
  gtk_widget_activate_action (GTK_WIDGET (self), "chat.open-image", "x",
                              natter_message_get_message_id (self->message));
}

static GtkWidget *
clickable_image (NatterMessageRow *self,
                 GtkWidget        *picture)
{
  GtkGesture *click;

  gtk_widget_set_cursor_from_name (picture, "pointer");
  set_tooltip (picture, _("Open the full image"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (picture),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Photo"),
                                  -1);
  click = gtk_gesture_click_new ();
  g_signal_connect (click, "released", G_CALLBACK (image_clicked_cb), self);
  gtk_widget_add_controller (picture, GTK_EVENT_CONTROLLER (click));
  return picture;
}

static GtkWidget *
photo_placeholder (NatterMessageRow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name ("image-x-generic-symbolic"));
  gtk_box_append (GTK_BOX (box), gtk_label_new (_("Photo")));
  return clickable_image (self, box);
}

typedef struct {
  NatterMessageRow *self;
  NatterMessage *message;
  GCancellable *cancellable;
} ThumbnailLoad;

static void
thumbnail_load_free (ThumbnailLoad *load)
{
  g_object_unref (load->self);
  g_object_unref (load->message);
  g_object_unref (load->cancellable);
  g_free (load);
}

/* The picture at the size the chat shows thumbnails at. */
static void
show_thumbnail (NatterMessageRow *self,
                GdkPaintable     *thumbnail)
{
  int width, height;

  natter_thumbnail_cache_display_size (gdk_paintable_get_intrinsic_width (thumbnail),
                                       gdk_paintable_get_intrinsic_height (thumbnail),
                                       &width, &height);
  gtk_widget_set_size_request (self->picture, MAX (48, width), MAX (48, height));
  gtk_picture_set_paintable (GTK_PICTURE (self->picture), thumbnail);
}

static void
thumbnail_loaded_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  ThumbnailLoad *load = user_data;
  NatterMessageRow *self = load->self;
  g_autoptr(GdkPaintable) thumbnail = NULL;
  g_autoptr(GError) error = NULL;

  thumbnail = natter_thumbnail_cache_load_finish (NATTER_THUMBNAIL_CACHE (object), result, &error);
  /* the row shows another message now, or is gone */
  if (g_cancellable_is_cancelled (load->cancellable) || self->message != load->message ||
      adw_bin_get_child (self->content_bin) != self->picture)
    {
      thumbnail_load_free (load);
      return;
    }
  g_clear_object (&self->thumbnail_cancellable);
  if (thumbnail == NULL)
    {
      g_debug ("thumbnail of message %" G_GINT64_FORMAT ": %s",
               natter_message_get_message_id (load->message), error->message);
      adw_bin_set_child (self->content_bin, photo_placeholder (self));
      thumbnail_load_free (load);
      return;
    }
  show_thumbnail (self, thumbnail);
  thumbnail_load_free (load);
}

/* The thumbnail is the sender's bytes: decoded in a worker thread (by
 * natter-image.h's rules), and kept by
 * natter-thumbnail-cache.h, so a row bound again (a scroll back) shows it
 * at once. The picture is the row's own, made once: a fling binds a row
 * to another photo every frame or two (#17). */
static GtkWidget *
image_content (NatterMessageRow *self,
               NatterMessage    *message)
{
  NatterThumbnailCache *cache = natter_thumbnail_cache_get_default ();
  GdkPaintable *thumbnail;
  ThumbnailLoad *load;
  JsonObject *content = natter_message_get_content (message);
  int width, height;

  if (content == NULL || *json_object_get_string_member_with_default (content, "content", "") == '\0')
    return photo_placeholder (self);

  if (self->picture == NULL)
    {
      self->picture = gtk_picture_new ();
      gtk_picture_set_can_shrink (GTK_PICTURE (self->picture), TRUE);
      /* the thumbnail has its rounded corners in it (natter-thumbnail.h):
       * no clip to draw at every frame */
      gtk_widget_add_css_class (self->picture, "message-image");
      g_object_ref_sink (clickable_image (self, self->picture));
    }

  g_cancellable_cancel (self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail_cancellable);
  thumbnail = natter_thumbnail_cache_lookup (cache, message);
  if (thumbnail != NULL)
    {
      show_thumbnail (self, thumbnail);
      return self->picture;
    }

  /* the room the thumbnail will take, from its header: the row's height
   * does not change when the decode comes (a relayout, and in a fling the
   * rows below jumped, #17); a usual room when the header does not say */
  gtk_picture_set_paintable (GTK_PICTURE (self->picture), NULL);
  if (natter_thumbnail_cache_peek_display_size (message, &width, &height))
    gtk_widget_set_size_request (self->picture, MAX (48, width), MAX (48, height));
  else
    gtk_widget_set_size_request (self->picture, 200, 150);
  self->thumbnail_cancellable = g_cancellable_new ();
  load = g_new0 (ThumbnailLoad, 1);
  load->self = g_object_ref (self);
  load->message = g_object_ref (message);
  load->cancellable = g_object_ref (self->thumbnail_cancellable);
  natter_thumbnail_cache_load_async (cache, message, self->thumbnail_cancellable,
                                     thumbnail_loaded_cb, load);
  return self->picture;
}

static void download_progress_cb (goffset, goffset, gpointer);
static void file_downloaded_cb (GObject *, GAsyncResult *, gpointer);
static void show_transfer (NatterMessageRow *, gboolean, double);

static void
file_button_clicked_cb (NatterMessageRow *self)
{
  const char *url;

  if (self->message == NULL || self->download_cancellable != NULL)
    return;
  url = natter_message_get_file_url (self->message);
  if (url == NULL || self->client == NULL)
    return;
  /* downloaded here, with its progress in the bubble, then opened */
  self->download_cancellable = g_cancellable_new ();
  show_transfer (self, TRUE, 0);
  natter_client_download_async (self->client, url, download_progress_cb, self, self->download_cancellable,
                                file_downloaded_cb, g_object_ref (self));
}

static GtkWidget *
file_content (NatterMessageRow *self,
              NatterMessage    *message)
{
  const char *name = natter_message_get_file_name (message);
  const char *type = natter_message_get_file_type (message);
  g_autofree char *size = g_format_size (MAX (natter_message_get_file_size (message), 0));
  g_autofree char *content_type = NULL;
  g_autofree char *detail = NULL;
  g_autoptr(GIcon) icon = NULL;
  GtkWidget *box, *labels, *label, *button;

  if (name == NULL || *name == '\0')
    name = _("File");
  content_type = g_content_type_guess (name, NULL, 0, NULL);
  icon = g_content_type_get_symbolic_icon (content_type);

  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  gtk_widget_add_css_class (box, "file-row");
  {
    GtkWidget *image = gtk_image_new_from_gicon (icon);
    gtk_image_set_pixel_size (GTK_IMAGE (image), 32);
    gtk_box_append (GTK_BOX (box), image);
  }
  labels = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_set_hexpand (labels, TRUE);
  gtk_widget_set_valign (labels, GTK_ALIGN_CENTER);
  label = gtk_label_new (name);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 36);
  gtk_widget_add_css_class (label, "heading");
  gtk_box_append (GTK_BOX (labels), label);
  detail = type != NULL && *type != '\0' ? g_strdup_printf ("%s · %s", size, type) : g_strdup (size);
  label = gtk_label_new (detail);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "caption");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_box_append (GTK_BOX (labels), label);
  gtk_box_append (GTK_BOX (box), labels);

  button = gtk_button_new_from_icon_name ("folder-download-symbolic");
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "circular");
  set_tooltip (button, _("Download and Open"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Download and Open"),
                                  -1);
  gtk_widget_set_sensitive (button, natter_message_get_file_url (message) != NULL);
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (file_button_clicked_cb), self);
  gtk_box_append (GTK_BOX (box), button);
  return box;
}

static GtkWidget *
call_content (NatterMessage *message)
{
  const char *icon = NULL;
  g_autofree char *text = natter_format_call_summary (message, &icon);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *image = gtk_image_new_from_icon_name (icon);
  GtkWidget *label = gtk_label_new (text);

  gtk_widget_add_css_class (box, "call-summary");
  if (g_strcmp0 (icon, "call-missed-symbolic") == 0)
    gtk_widget_add_css_class (box, "missed");
  gtk_box_append (GTK_BOX (box), image);
  gtk_box_append (GTK_BOX (box), label);
  return box;
}

static GtkWidget *
unsupported_content (NatterMessage *message)
{
  GtkWidget *label = gtk_label_new (_("This kind of message cannot be shown by this version of Natter."));

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  gtk_widget_add_css_class (label, "unsupported");
  set_tooltip (label, natter_message_get_object_name (message));
  return label;
}

static void
update_status (NatterMessageRow *self)
{
  NatterMessage *m = self->message;
  const char *icon = NULL;
  const char *tooltip = NULL;
  g_autofree char *failed = NULL;
  gboolean outgoing;

  outgoing = natter_message_get_direction (m) == NATTER_MESSAGE_DIRECTION_SEND;
  gtk_widget_remove_css_class (GTK_WIDGET (self->status_icon), "error");
  gtk_widget_set_visible (self->retry_button, FALSE);

  if (outgoing && natter_message_is_persisted (m))
    {
      switch (natter_message_get_sent_status (m))
        {
        case NATTER_SENT_STATUS_SENDING:
          icon = "natter-sending-symbolic";
          tooltip = _("Sending");
          break;
        case NATTER_SENT_STATUS_FAILED:
          {
            const char *why = natter_format_code (natter_message_get_error_code (m));
            icon = "dialog-error-symbolic";
            failed = why != NULL ? g_strdup_printf (_("Not sent: %s"), why) : g_strdup (_("Not sent"));
            tooltip = failed;
            gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), "error");
            gtk_widget_set_visible (self->retry_button, TRUE);
            set_tooltip (self->retry_button, failed);
          }
          break;
        case NATTER_SENT_STATUS_READ:
          icon = "natter-read-symbolic";
          tooltip = _("Read");
          break;
        case NATTER_SENT_STATUS_SENT:
        case NATTER_SENT_STATUS_RECEIVED:
        default:
          icon = "natter-sent-symbolic";
          tooltip = _("Sent");
          break;
        }
    }

  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), icon != NULL);
  if (icon != NULL)
    {
      /* GtkImage clears and sets its icon again, a resize of the row up
       * to the window, even for the same name: at each bind (#17) */
      if (gtk_image_get_storage_type (self->status_icon) != GTK_IMAGE_ICON_NAME ||
          g_strcmp0 (gtk_image_get_icon_name (self->status_icon), icon) != 0)
        gtk_image_set_from_icon_name (self->status_icon, icon);
      set_tooltip (GTK_WIDGET (self->status_icon), tooltip);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_icon),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip,
                                      -1);
    }
}

/* Who read it, in the popover: a profile's name, else the user id. */
static void
fill_read_by_names (NatterMessageRow *self)
{
  g_auto(GStrv) readers = NULL;
  g_autoptr(GString) names = g_string_new (NULL);

  if (self->message == NULL || self->read_by_names == NULL)
    return;
  readers = natter_message_dup_read_by (self->message);
  for (guint i = 0; readers != NULL && readers[i] != NULL; i++)
    {
      const NatterProfile *profile = self->client != NULL ?
                                     natter_store_lookup_user (natter_client_get_store (self->client), readers[i]) :
                                     NULL;

      if (names->len > 0)
        g_string_append_c (names, '\n');
      g_string_append (names, profile != NULL && profile->name != NULL && *profile->name != '\0' ?
                              profile->name : readers[i]);
    }
  gtk_label_set_text (self->read_by_names, names->len > 0 ? names->str : _("Nobody yet"));
}

/* The receipts' button, before the time: built for the first own group
 * message that asked for receipts, not for every row. */
static void
build_read_by (NatterMessageRow *self)
{
  GtkWidget *popover = gtk_popover_new ();

  self->read_by_names = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->read_by_names, 0);
  gtk_label_set_selectable (self->read_by_names, TRUE);
  gtk_popover_set_child (GTK_POPOVER (popover), GTK_WIDGET (self->read_by_names));
  /* the names as the store has them when it opens: a reader's profile
   * may come after the receipt did */
  g_signal_connect_object (popover, "show", G_CALLBACK (fill_read_by_names), self, G_CONNECT_SWAPPED);
  self->read_by_button = gtk_menu_button_new ();
  gtk_menu_button_set_popover (GTK_MENU_BUTTON (self->read_by_button), popover);
  gtk_widget_add_css_class (self->read_by_button, "flat");
  gtk_widget_add_css_class (self->read_by_button, "read-by");
  gtk_widget_set_visible (self->read_by_button, FALSE);
  /* where it always was: after "edited", before the time */
  gtk_box_insert_child_after (GTK_BOX (self->meta_box), self->read_by_button, self->edited_label);
}

/* Group read receipts: shown once asked for (the app asks for its own
 * group messages), the popover says who. */
static void
update_read_by (NatterMessageRow *self)
{
  NatterMessage *m = self->message;
  NatterConversationType type = natter_message_get_conversation_type (m);
  g_auto(GStrv) readers = NULL;
  g_autofree char *label = NULL;
  guint n;

  if (natter_message_get_direction (m) != NATTER_MESSAGE_DIRECTION_SEND ||
      (type != NATTER_CONVERSATION_GROUP && type != NATTER_CONVERSATION_DISCUSSION) ||
      !natter_message_get_receipt_requested (m))
    {
      if (self->read_by_button != NULL)
        gtk_widget_set_visible (self->read_by_button, FALSE);
      return;
    }
  if (self->read_by_button == NULL)
    build_read_by (self);

  readers = natter_message_dup_read_by (m);
  n = g_strv_length (readers);
  /* Translators: under a group message: how many members read it */
  label = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Read by %u", "Read by %u", n), n);
  gtk_menu_button_set_label (GTK_MENU_BUTTON (self->read_by_button), label);
  /* the names (a store lookup each) when its popover shows, not at every
   * bind (#17); now only if it is open */
  if (gtk_widget_get_mapped (GTK_WIDGET (self->read_by_names)))
    fill_read_by_names (self);
  gtk_widget_set_sensitive (self->read_by_button, TRUE);
  gtk_widget_set_visible (self->read_by_button, TRUE);
}

/* ------------------------------------------------------- media progress */

/* An outgoing media message whose file is not uploaded yet (the outbox
 * uploads it, then publishes). */
static gboolean
is_uploading (NatterMessage *m)
{
  return m != NULL && natter_message_get_direction (m) == NATTER_MESSAGE_DIRECTION_SEND &&
         natter_message_get_sent_status (m) == NATTER_SENT_STATUS_SENDING &&
         json_object_has_member (natter_message_get_content (m), "localPath");
}

static void build_transfer_widgets (NatterMessageRow *self);

static void
show_transfer (NatterMessageRow *self,
               gboolean          shown,
               double            fraction)
{
  if (self->transfer_box == NULL)
    {
      if (!shown)
        return;
      build_transfer_widgets (self);
    }
  gtk_widget_set_visible (self->transfer_box, shown);
  gtk_progress_bar_set_fraction (self->transfer_bar, CLAMP (fraction, 0, 1));
}

static void
update_transfer (NatterMessageRow *self)
{
  if (self->download_cancellable != NULL)
    return;
  /* the fraction comes with ::upload-progress */
  if (is_uploading (self->message))
    show_transfer (self, TRUE, self->transfer_bar != NULL ? gtk_progress_bar_get_fraction (self->transfer_bar) : 0);
  else
    show_transfer (self, FALSE, 0);
}

static void
upload_progress_cb (NatterMessageRow *self,
                    const char       *client_msg_id,
                    gint64            current,
                    gint64            total,
                    NatterClient     *client)
{
  if (self->message == NULL ||
      g_strcmp0 (natter_message_get_client_msg_id (self->message), client_msg_id) != 0 ||
      !is_uploading (self->message))
    return;
  show_transfer (self, TRUE, total > 0 ? (double) current / total : 0);
}

static void
stop_download (NatterMessageRow *self)
{
  g_cancellable_cancel (self->download_cancellable);
  g_clear_object (&self->download_cancellable);
  update_transfer (self);
}

static void
transfer_cancel_clicked_cb (NatterMessageRow *self)
{
  if (self->download_cancellable != NULL)
    stop_download (self);
  else if (self->client != NULL && is_uploading (self->message))
    natter_client_cancel_upload (self->client, self->message);
}

static void
download_progress_cb (goffset  current,
                      goffset  total,
                      gpointer user_data)
{
  NatterMessageRow *self = user_data;

  /* late news of a download stopped meanwhile */
  if (self->download_cancellable == NULL || g_cancellable_is_cancelled (self->download_cancellable))
    return;
  show_transfer (self, TRUE, total > 0 ? (double) current / total : 0);
}

static void
file_downloaded_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterMessageRow) self = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  /* stopped (cancel, or the row shows another message now): nothing more */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->download_cancellable == NULL)
    return;
  g_clear_object (&self->download_cancellable);
  update_transfer (self);
  /* the chat opens it (now from the cache) or says why it failed */
  if (self->message != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self), "chat.open-file", "x",
                                natter_message_get_message_id (self->message));
}

/* Built the first time a transfer shows: few rows ever have one, and it
 * was a third of making a row (a chat makes a screenful when it opens). */
static void
build_transfer_widgets (NatterMessageRow *self)
{
  GtkWidget *button;

  self->transfer_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_add_css_class (self->transfer_box, "transfer");
  gtk_widget_set_visible (self->transfer_box, FALSE);
  self->transfer_bar = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (self->transfer_bar), TRUE);
  gtk_widget_set_valign (GTK_WIDGET (self->transfer_bar), GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->transfer_bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Transfer progress"), -1);
  gtk_box_append (GTK_BOX (self->transfer_box), GTK_WIDGET (self->transfer_bar));
  button = gtk_button_new_from_icon_name ("process-stop-symbolic");
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_add_css_class (button, "circular");
  set_tooltip (button, _("Cancel Transfer"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Cancel Transfer"), -1);
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (transfer_cancel_clicked_cb), self);
  gtk_box_append (GTK_BOX (self->transfer_box), button);
  gtk_box_insert_child_after (GTK_BOX (self->bubble), self->transfer_box, GTK_WIDGET (self->content_bin));
}

static void
set_css_class (GtkWidget  *widget,
               const char *name,
               gboolean    set)
{
  if (set)
    gtk_widget_add_css_class (widget, name);
  else
    gtk_widget_remove_css_class (widget, name);
}

static void
update_content (NatterMessageRow *self)
{
  NatterMessage *m = self->message;
  GtkWidget *content = NULL;
  gboolean outgoing = natter_message_get_direction (m) == NATTER_MESSAGE_DIRECTION_SEND;

  if (is_hidden (m))
    {
      gtk_widget_add_css_class (GTK_WIDGET (self), "hidden");
      gtk_widget_set_visible (GTK_WIDGET (self->notice_label), FALSE);
      gtk_widget_set_visible (self->message_box, FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->day_label), FALSE);
      adw_bin_set_child (self->content_bin, NULL);
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self), "hidden");

  if (is_notice (m))
    {
      g_autofree char *text = NULL;

      if (natter_message_get_kind (m) == NATTER_MESSAGE_KIND_RECALLED)
        text = outgoing ? g_strdup (_("You recalled a message"))
                        : g_strdup_printf (_("%s recalled a message"), sender_name (m));
      else if (natter_message_get_kind (m) != NATTER_MESSAGE_KIND_INFO)
        text = natter_format_notice (m, self->client != NULL ? natter_client_get_user_id (self->client) : NULL);
      else
        text = g_strdup (natter_message_get_text (m));
      gtk_label_set_label (self->notice_label, text != NULL ? text : "");
      gtk_widget_set_visible (GTK_WIDGET (self->notice_label), TRUE);
      gtk_widget_set_visible (self->message_box, FALSE);
      adw_bin_set_child (self->content_bin, NULL);
      return;
    }

  gtk_widget_set_visible (GTK_WIDGET (self->notice_label), FALSE);
  gtk_widget_set_visible (self->message_box, TRUE);

  /* set, not removed and added again: each change restyles the bubble and
   * all in it, and a fling through photos binds a row every frame (#17) */
  set_css_class (self->bubble, "media", natter_message_get_kind (m) == NATTER_MESSAGE_KIND_IMAGE);
  switch (natter_message_get_kind (m))
    {
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_REFERENCE:
      content = text_content (self, natter_message_get_text (m));
      break;
    case NATTER_MESSAGE_KIND_IMAGE:
      content = image_content (self, m);
      break;
    case NATTER_MESSAGE_KIND_HQ_VOICE:
    case NATTER_MESSAGE_KIND_VOICE:
      content = natter_voice_player_new (self->client, m);
      break;
    case NATTER_MESSAGE_KIND_FILE:
      content = file_content (self, m);
      break;
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
      content = call_content (m);
      break;
    case NATTER_MESSAGE_KIND_UNSUPPORTED:
    case NATTER_MESSAGE_KIND_INFO:
    case NATTER_MESSAGE_KIND_RECALLED:
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
    default:
      content = unsupported_content (m);
      break;
    }
  if (adw_bin_get_child (self->content_bin) != content)
    adw_bin_set_child (self->content_bin, content);
}

/* The avatar where a group starts (below it the bubble keeps its room) and
 * the sender's name in group chats; the profile may come later. The
 * avatar draws its initials at the frame, nothing at bind (#17). */
static void
update_sender (NatterMessageRow *self)
{
  NatterMessage *message = self->message;
  gboolean outgoing = natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND;

  gtk_widget_set_visible (GTK_WIDGET (self->avatar), !outgoing && self->group_start);
  gtk_widget_set_margin_start (self->bubble, !outgoing && !self->group_start ? AVATAR_ROOM : 0);
  if (!outgoing && self->group_start)
    {
      natter_avatar_set_text (self->avatar, sender_name (message));
      if (self->portraits != NULL)
        natter_portraits_apply (self->portraits, GTK_WIDGET (self->avatar),
                                natter_message_get_sender_portrait_uri (message));
    }
  set_label (self->sender_label, sender_name (message));
  gtk_widget_set_visible (GTK_WIDGET (self->sender_label),
                          self->show_sender && !outgoing && self->group_start);
}

static void update_actions (NatterMessageRow *self);

static void
message_notify_cb (NatterMessageRow *self,
                   GParamSpec       *pspec)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "sender-name") || g_str_equal (name, "sender-portrait-uri"))
    {
      update_sender (self);
      return;
    }

  if (g_str_equal (name, "sent-status") || g_str_equal (name, "error-code"))
    {
      update_status (self);
      update_transfer (self);
    }
  else if (g_str_equal (name, "content") || g_str_equal (name, "object-name"))
    {
      update_content (self);
      update_status (self);
      update_read_by (self);
      update_actions (self);
      update_transfer (self);
    }
}

static void watch_quoted (NatterMessageRow *self,
                          NatterStore      *store);

void
natter_message_row_set_message (NatterMessageRow *self,
                                NatterClient     *client,
                                NatterPortraits  *portraits,
                                NatterMessage    *message,
                                NatterMessage    *previous,
                                gboolean          show_sender)
{
  gboolean outgoing, group_start, new_day;
  gint64 time;
  g_autofree char *clock = NULL;
  g_autofree char *full_time = NULL;
  g_autofree char *a11y = NULL;
  g_autofree char *preview = NULL;

  g_return_if_fail (NATTER_IS_MESSAGE_ROW (self));

  if (self->message != NULL)
    g_clear_signal_handler (&self->notify_id, self->message);
  if (self->message != message)
    {
      /* a download for the message shown before stops with it */
      g_cancellable_cancel (self->download_cancellable);
      g_clear_object (&self->download_cancellable);
      show_transfer (self, FALSE, 0);
    }
  if (self->client != client)
    {
      if (self->client != NULL)
        g_clear_signal_handler (&self->upload_progress_id, self->client);
      if (client != NULL)
        self->upload_progress_id = g_signal_connect_object (client, "upload-progress",
                                                            G_CALLBACK (upload_progress_cb), self,
                                                            G_CONNECT_SWAPPED);
    }
  g_set_object (&self->message, message);
  g_set_object (&self->client, client);
  if (message != NULL)
    g_set_object (&self->previous, previous);
  else
    g_clear_object (&self->previous);
  if (message == NULL)
    {
      GtkWidget *content = adw_bin_get_child (self->content_bin);

      /* the row's own picture and text label stay in place, emptied: taken
       * out and put back at the next binding, they were styled anew each
       * time (#17) */
      if (content != NULL && content == self->picture)
        {
          g_cancellable_cancel (self->thumbnail_cancellable);
          g_clear_object (&self->thumbnail_cancellable);
          gtk_picture_set_paintable (GTK_PICTURE (self->picture), NULL);
        }
      else if (content == NULL || content != self->text_label)
        adw_bin_set_child (self->content_bin, NULL);
      g_cancellable_cancel (self->quote_cancellable);
      watch_quoted (self, NULL);
      natter_reaction_bar_set_message (NATTER_REACTION_BAR (self->reaction_bar), NULL, NULL);
      return;
    }
  self->notify_id = g_signal_connect_swapped (message, "notify", G_CALLBACK (message_notify_cb), self);
  self->bindings++;

  time = natter_message_get_sent_time (message);
  outgoing = natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND;
  new_day = previous == NULL || !natter_same_day (natter_message_get_sent_time (previous), time);
  group_start = new_day || is_notice (previous) ||
                g_strcmp0 (natter_message_get_sender_user_id (previous),
                           natter_message_get_sender_user_id (message)) != 0 ||
                natter_message_get_direction (previous) != natter_message_get_direction (message) ||
                time - natter_message_get_sent_time (previous) > GROUP_GAP_MS;

  if (new_day)
    {
      g_autofree char *day = natter_format_day (time, 0);
      gtk_label_set_label (self->day_label, day);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), new_day);

  /* incoming on the left with the sender's avatar at the top of a group,
   * outgoing on the right in the accent color */
  gtk_widget_set_halign (self->message_box, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  set_css_class (self->bubble, "outgoing", outgoing);
  set_css_class (self->bubble, "incoming", !outgoing);
  self->group_start = group_start;
  self->show_sender = show_sender;
  g_set_object (&self->portraits, portraits);
  update_sender (self);
  set_css_class (GTK_WIDGET (self), "group-start", group_start);

  clock = natter_format_clock (time);
  full_time = natter_format_date_time (time);
  set_label (self->time_label, clock);
  set_tooltip (GTK_WIDGET (self->time_label), full_time);

  update_content (self);
  update_status (self);
  update_read_by (self);
  update_actions (self);
  update_transfer (self);

  preview = natter_format_preview (message);
  /* Translators: what a screen reader says for a message: sender, time, text */
  a11y = g_strdup_printf (_("%s at %s: %s"),
                          outgoing ? _("You") : sender_name (message), clock, preview);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, a11y,
                                  -1);
}

NatterMessage *
natter_message_row_get_message (NatterMessageRow *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_ROW (self), NULL);
  return self->message;
}

gboolean
natter_message_row_is_bound_to (NatterMessageRow *self,
                                NatterMessage    *message,
                                NatterMessage    *previous)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_ROW (self), FALSE);
  return message != NULL && self->message == message && self->previous == previous;
}

guint
natter_message_row_get_bindings (NatterMessageRow *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_ROW (self), 0);
  return self->bindings;
}

void
natter_message_row_set_first_unread (NatterMessageRow *self,
                                     gboolean          first_unread)
{
  g_return_if_fail (NATTER_IS_MESSAGE_ROW (self));
  gtk_widget_set_visible (self->unread_label, first_unread);
}

static gboolean
unflash_cb (gpointer user_data)
{
  NatterMessageRow *self = user_data;

  self->flash_id = 0;
  gtk_widget_remove_css_class (self->bubble, "flash");
  return G_SOURCE_REMOVE;
}

void
natter_message_row_flash (NatterMessageRow *self)
{
  g_return_if_fail (NATTER_IS_MESSAGE_ROW (self));

  gtk_widget_add_css_class (self->bubble, "flash");
  g_clear_handle_id (&self->flash_id, g_source_remove);
  self->flash_id = g_timeout_add (1500, unflash_cb, self);
}

static void
retry_clicked_cb (NatterMessageRow *self)
{
  if (self->message != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self), "chat.retry", "x",
                                natter_message_get_message_id (self->message));
}

static void
popup_menu (NatterMessageRow *self,
            double            x,
            double            y)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  NatterMessage *m = self->message;
  gint64 id;

  if (m == NULL || is_notice (m))
    return;
  id = natter_message_get_message_id (m);

#define ADD(label, action)                                                      \
  G_STMT_START {                                                                \
    g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);                  \
    g_menu_item_set_action_and_target_value (item, action, g_variant_new_int64 (id)); \
    g_menu_append_item (menu, item);                                            \
  } G_STMT_END

  if (natter_message_get_message_uid (m) != NULL)
    ADD (_("_Reply"), "chat.reply");
  if (natter_message_get_expansion (m) != NULL && natter_message_get_message_uid (m) != NULL)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_("R_eact…"), "row.react");
      g_menu_append_item (menu, item);
    }
  if (natter_message_row_can_edit (m, self->client))
    ADD (_("_Edit"), "chat.edit");
  if (natter_message_get_kind (m) == NATTER_MESSAGE_KIND_TEXT ||
      natter_message_get_kind (m) == NATTER_MESSAGE_KIND_REFERENCE)
    ADD (_("_Copy Text"), "chat.copy");
  if (natter_message_get_kind (m) == NATTER_MESSAGE_KIND_IMAGE)
    ADD (_("_Open Image"), "chat.open-image");
  if (natter_message_get_kind (m) == NATTER_MESSAGE_KIND_FILE)
    ADD (_("_Open File"), "chat.open-file");
  if (natter_message_get_sent_status (m) == NATTER_SENT_STATUS_FAILED)
    ADD (_("_Send Again"), "chat.retry");
  if (natter_message_get_direction (m) == NATTER_MESSAGE_DIRECTION_SEND &&
      natter_message_get_message_uid (m) != NULL &&
      natter_message_get_sent_status (m) >= NATTER_SENT_STATUS_SENT)
    ADD (_("_Recall"), "chat.recall");
  if (natter_message_get_message_uid (m) != NULL)
    {
      ADD (_("_Forward…"), "chat.forward");
      ADD (_("_Select"), "chat.select");
    }
  ADD (_("_Delete for Me"), "chat.delete-for-me");
#undef ADD

  if (g_menu_model_get_n_items (G_MENU_MODEL (menu)) == 0)
    return;

  if (self->menu == NULL)
    {
      self->menu = gtk_popover_menu_new_from_model (NULL);
      gtk_popover_set_has_arrow (GTK_POPOVER (self->menu), FALSE);
      gtk_widget_set_parent (self->menu, GTK_WIDGET (self));
    }
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->menu), G_MENU_MODEL (menu));
  gtk_widget_translate_coordinates (self->bubble, GTK_WIDGET (self), x, y, &x, &y);
  self->menu_at = (GdkRectangle) { (int) x, (int) y, 1, 1 };
  gtk_popover_set_pointing_to (GTK_POPOVER (self->menu), &self->menu_at);
  gtk_popover_popup (GTK_POPOVER (self->menu));
}

static void
secondary_pressed_cb (GtkGestureClick  *gesture,
                      int               n_press,
                      double            x,
                      double            y,
                      NatterMessageRow *self)
{
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  popup_menu (self, x, y);
}

static void
long_pressed_cb (GtkGestureLongPress *gesture,
                 double               x,
                 double               y,
                 NatterMessageRow    *self)
{
  popup_menu (self, x, y);
}

/* ------------------------------------------------------ message actions */

gboolean
natter_message_row_can_edit (NatterMessage *message,
                             NatterClient  *client)
{
  /* Later natterd would refuse with 25103. */
  gint64 window_ms = (gint64) (client != NULL ? natter_client_get_edit_window (client)
                                              : NATTER_EDIT_WINDOW_DEFAULT) * 1000;

  return window_ms > 0 &&
         natter_message_is_editable_kind (message) &&
         natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND &&
         natter_message_get_message_uid (message) != NULL &&
         natter_message_get_sent_status (message) >= NATTER_SENT_STATUS_SENT &&
         g_get_real_time () / 1000 - natter_message_get_sent_time (message) < window_ms;
}

char *
natter_message_row_dup_referred_sender (NatterMessage *reply,
                                        NatterClient  *client)
{
  const char *user_id = natter_message_get_referred_user_id (reply);
  const char *me = client != NULL ? natter_client_get_user_id (client) : NULL;

  if (user_id == NULL || *user_id == '\0')
    return g_strdup (_("Unknown"));
  if (g_strcmp0 (user_id, me) == 0)
    return g_strdup (_("You"));
  if (g_strcmp0 (user_id, natter_message_get_sender_user_id (reply)) == 0)
    return g_strdup (sender_name (reply));
  return g_strdup (user_id);
}

char *
natter_message_row_dup_referred_snippet (NatterMessage *reply)
{
  JsonObject *content = natter_message_get_referred_content (reply);
  const char *object_name = natter_message_get_referred_object_name (reply);
  g_autoptr(NatterMessage) quoted = NULL;
  g_autofree char *preview = NULL;

  if (g_strcmp0 (object_name, NATTER_OBJECT_RECALL_NOTIFICATION) == 0)
    return g_strdup (_("Message recalled"));
  if (content == NULL || object_name == NULL || *object_name == '\0')
    return g_strdup ("");
  quoted = natter_message_new (natter_message_get_conversation_type (reply),
                               natter_message_get_target_id (reply),
                               natter_message_get_referred_user_id (reply), object_name, content);
  preview = natter_format_preview (quoted);
  /* one line */
  g_strdelimit (preview, "\n\r", ' ');
  return g_steal_pointer (&preview);
}

static void
show_quote_recalled (NatterMessageRow *self)
{
  gtk_label_set_label (self->quote_text, _("Message recalled"));
  gtk_widget_add_css_class (self->quote_box, "recalled");
}

static void
quote_original_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(NatterMessageRow) self = user_data;
  g_autoptr(NatterMessage) original = NULL;
  g_autoptr(GError) error = NULL;

  original = natter_store_get_message_finish (NATTER_STORE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* the original was recalled since it was quoted */
  if (original != NULL && natter_message_get_kind (original) == NATTER_MESSAGE_KIND_RECALLED)
    show_quote_recalled (self);
}

/* The quoted message recalled while the reply is on screen. */
static void
quote_store_updated_cb (NatterMessageRow *self,
                        NatterMessage    *updated)
{
  if (self->message != NULL && natter_message_get_kind (updated) == NATTER_MESSAGE_KIND_RECALLED &&
      g_strcmp0 (natter_message_get_message_uid (updated),
                 natter_message_get_referred_message_uid (self->message)) == 0)
    show_quote_recalled (self);
}

static void
watch_quoted (NatterMessageRow *self,
              NatterStore      *store)
{
  if (self->quote_store == store)
    return;
  if (self->quote_store != NULL)
    g_clear_signal_handler (&self->quote_updated_id, self->quote_store);
  g_set_object (&self->quote_store, store);
  if (store != NULL)
    self->quote_updated_id = g_signal_connect_object (store, "message-updated",
                                                      G_CALLBACK (quote_store_updated_cb), self,
                                                      G_CONNECT_SWAPPED);
}

static void
update_quote (NatterMessageRow *self)
{
  NatterMessage *m = self->message;
  const char *uid;
  g_autofree char *sender = NULL;
  g_autofree char *snippet = NULL;

  g_cancellable_cancel (self->quote_cancellable);
  g_clear_object (&self->quote_cancellable);
  gtk_widget_set_visible (self->quote_box, natter_message_get_kind (m) == NATTER_MESSAGE_KIND_REFERENCE);
  uid = natter_message_get_referred_message_uid (m);
  watch_quoted (self, natter_message_get_kind (m) == NATTER_MESSAGE_KIND_REFERENCE && uid != NULL &&
                      self->client != NULL ? natter_client_get_store (self->client) : NULL);
  if (natter_message_get_kind (m) != NATTER_MESSAGE_KIND_REFERENCE)
    return;

  sender = natter_message_row_dup_referred_sender (m, self->client);
  snippet = natter_message_row_dup_referred_snippet (m);
  gtk_label_set_label (self->quote_sender, sender);
  gtk_label_set_label (self->quote_text, snippet);
  gtk_widget_remove_css_class (self->quote_box, "recalled");

  if (uid != NULL && self->client != NULL)
    {
      self->quote_cancellable = g_cancellable_new ();
      natter_store_get_message_by_uid_async (natter_client_get_store (self->client), uid,
                                             self->quote_cancellable, quote_original_cb,
                                             g_object_ref (self));
    }
}

static void
update_actions (NatterMessageRow *self)
{
  NatterMessage *m = self->message;
  gboolean edited;

  if (m == NULL || is_hidden (m) || is_notice (m))
    {
      gtk_widget_set_visible (self->quote_box, FALSE);
      watch_quoted (self, NULL);
      gtk_widget_set_visible (self->reaction_bar, FALSE);
      return;
    }
  update_quote (self);

  edited = natter_message_get_edited_time (m) != 0;
  gtk_widget_set_visible (self->edited_label, edited);
  if (edited)
    {
      g_autofree char *when = natter_format_date_time (natter_message_get_edited_time (m));
      /* Translators: the tooltip of a bubble's "edited" mark */
      g_autofree char *tooltip = g_strdup_printf (_("Edited %s"), when);

      set_tooltip (self->edited_label, tooltip);
    }

  natter_reaction_bar_set_message (NATTER_REACTION_BAR (self->reaction_bar), m,
                                   self->client != NULL ? natter_client_get_user_id (self->client) : NULL);
}

static void
quote_clicked_cb (GtkGestureClick  *gesture,
                  int               n_press,
                  double            x,
                  double            y,
                  NatterMessageRow *self)
{
  if (self->message != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self), "chat.show-referred", "x",
                                natter_message_get_message_id (self->message));
}

static void
reaction_picked_cb (NatterMessageRow *self,
                    const char       *emoji)
{
  const char *me;

  if (self->message == NULL)
    return;
  me = self->client != NULL ? natter_client_get_user_id (self->client) : NULL;
  gtk_widget_activate_action (GTK_WIDGET (self), "chat.react", "(xsb)",
                              natter_message_get_message_id (self->message), emoji,
                              !natter_message_has_reaction (self->message, emoji, me));
}

/* The quick reaction picker where the menu was (or over the bubble). */
static void
react_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  NatterMessageRow *self = NATTER_MESSAGE_ROW (widget);

  if (self->picker == NULL)
    {
      self->picker = natter_reaction_picker_new ();
      gtk_widget_set_parent (self->picker, widget);
      g_signal_connect_swapped (self->picker, "picked", G_CALLBACK (reaction_picked_cb), self);
    }
  if (self->menu_at.width == 0)
    {
      graphene_rect_t bounds;

      if (gtk_widget_compute_bounds (self->bubble, widget, &bounds))
        self->menu_at = (GdkRectangle) { (int) bounds.origin.x, (int) bounds.origin.y, (int) bounds.size.width, 1 };
    }
  gtk_popover_set_pointing_to (GTK_POPOVER (self->picker), &self->menu_at);
  gtk_popover_popup (GTK_POPOVER (self->picker));
}

GtkWidget *
natter_message_row_get_reaction_picker (NatterMessageRow *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_ROW (self), NULL);
  return self->picker;
}

static void
more_clicked_cb (NatterMessageRow *self)
{
  graphene_rect_t bounds;

  if (!gtk_widget_compute_bounds (self->more_button, self->bubble, &bounds))
    return;
  popup_menu (self, bounds.origin.x + bounds.size.width / 2, bounds.origin.y + bounds.size.height);
}

static void
hover_enter_cb (NatterMessageRow *self)
{
  gtk_widget_set_opacity (self->more_button, 1);
}

static void
hover_leave_cb (NatterMessageRow *self)
{
  gtk_widget_set_opacity (self->more_button, 0);
}

/* Built in code, not in the template: the parts of the bubble actions
 * need (the quote of a reply, "edited", the reaction chips, "…"). */
static void
build_action_widgets (NatterMessageRow *self)
{
  GtkGesture *click;
  GtkEventController *motion;

  self->quote_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_add_css_class (self->quote_box, "quote");
  gtk_widget_set_visible (self->quote_box, FALSE);
  gtk_widget_set_cursor_from_name (self->quote_box, "pointer");
  set_tooltip (self->quote_box, _("Show the original message"));
  self->quote_sender = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->quote_sender, 0);
  gtk_label_set_ellipsize (self->quote_sender, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->quote_sender), "quote-sender");
  self->quote_text = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->quote_text, 0);
  gtk_label_set_ellipsize (self->quote_text, PANGO_ELLIPSIZE_END);
  gtk_label_set_single_line_mode (self->quote_text, TRUE);
  gtk_label_set_max_width_chars (self->quote_text, 40);
  gtk_box_append (GTK_BOX (self->quote_box), GTK_WIDGET (self->quote_sender));
  gtk_box_append (GTK_BOX (self->quote_box), GTK_WIDGET (self->quote_text));
  click = gtk_gesture_click_new ();
  g_signal_connect (click, "released", G_CALLBACK (quote_clicked_cb), self);
  gtk_widget_add_controller (self->quote_box, GTK_EVENT_CONTROLLER (click));
  gtk_box_insert_child_after (GTK_BOX (self->bubble), self->quote_box, GTK_WIDGET (self->sender_label));

  /* Translators: next to the time of a message that was edited */
  self->edited_label = gtk_label_new (_("edited"));
  gtk_widget_set_visible (self->edited_label, FALSE);
  gtk_widget_add_css_class (self->edited_label, "edited");
  gtk_box_prepend (GTK_BOX (self->meta_box), self->edited_label);

  self->reaction_bar = natter_reaction_bar_new ();
  gtk_box_append (GTK_BOX (self->bubble), self->reaction_bar);

  self->more_button = gtk_button_new_from_icon_name ("view-more-symbolic");
  gtk_widget_set_valign (self->more_button, GTK_ALIGN_CENTER);
  gtk_widget_set_opacity (self->more_button, 0);
  gtk_widget_add_css_class (self->more_button, "flat");
  gtk_widget_add_css_class (self->more_button, "circular");
  set_tooltip (self->more_button, _("Message Actions"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->more_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Message Actions"), -1);
  g_signal_connect_swapped (self->more_button, "clicked", G_CALLBACK (more_clicked_cb), self);
  gtk_box_append (GTK_BOX (self->message_box), self->more_button);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect_swapped (motion, "enter", G_CALLBACK (hover_enter_cb), self);
  g_signal_connect_swapped (motion, "leave", G_CALLBACK (hover_leave_cb), self);
  gtk_widget_add_controller (self->message_box, motion);
}

static void
natter_message_row_dispose (GObject *object)
{
  NatterMessageRow *self = (NatterMessageRow *) object;

  if (self->message != NULL)
    g_clear_signal_handler (&self->notify_id, self->message);
  g_clear_object (&self->message);
  g_clear_object (&self->previous);
  watch_quoted (self, NULL);
  g_cancellable_cancel (self->download_cancellable);
  g_clear_object (&self->download_cancellable);
  if (self->client != NULL)
    g_clear_signal_handler (&self->upload_progress_id, self->client);
  g_clear_object (&self->client);
  g_clear_object (&self->portraits);
  g_cancellable_cancel (self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail_cancellable);
  g_clear_handle_id (&self->flash_id, g_source_remove);
  g_clear_pointer (&self->menu, gtk_widget_unparent);
  g_clear_pointer (&self->picker, gtk_widget_unparent);
  g_cancellable_cancel (self->quote_cancellable);
  g_clear_object (&self->quote_cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_MESSAGE_ROW);
  g_clear_object (&self->text_label);
  g_clear_object (&self->picture);
  /* template children that are not bound to a field */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (natter_message_row_parent_class)->dispose (object);
}

static void
natter_message_row_class_init (NatterMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_message_row_dispose;

  g_type_ensure (NATTER_TYPE_AVATAR);
  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, day_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, unread_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, notice_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, message_box);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, retry_button);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, sender_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, content_bin);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, meta_box);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, status_icon);
  gtk_widget_class_bind_template_callback (widget_class, retry_clicked_cb);

  gtk_widget_class_install_action (widget_class, "row.react", NULL, react_activated);

  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
natter_message_row_init (NatterMessageRow *self)
{
  GtkGesture *click;
  GtkGesture *press;

  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->retry_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Send Again"),
                                  -1);

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (secondary_pressed_cb), self);
  gtk_widget_add_controller (self->bubble, GTK_EVENT_CONTROLLER (click));

  press = gtk_gesture_long_press_new ();
  gtk_gesture_single_set_touch_only (GTK_GESTURE_SINGLE (press), TRUE);
  g_signal_connect (press, "pressed", G_CALLBACK (long_pressed_cb), self);
  gtk_widget_add_controller (self->bubble, GTK_EVENT_CONTROLLER (press));

  build_action_widgets (self);
}

GtkWidget *
natter_message_row_new (void)
{
  return g_object_new (NATTER_TYPE_MESSAGE_ROW, NULL);
}
