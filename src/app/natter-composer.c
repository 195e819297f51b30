/* natter-composer.c — where messages are written
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <string.h>

#include "natter-composer.h"
#include "natter-mention-popover.h"
#include "natter-format.h"
#include "natter-call-module.h"

struct _NatterComposer
{
  GtkWidget parent_instance;

  char *cache_dir;
  gboolean enter_sends;
  char *microphone;
  GObject *recorder;  /* the call module's NatterVoiceRecorder */
  gboolean quiet;   /* set_text: no ::text-changed */

  GtkStack *stack;
  GtkMenuButton *emoji_button;
  GtkTextView *text_view;
  GtkWidget *placeholder;
  GtkStack *button_stack;
  GtkLabel *recording_label;

  /* @mentions (groups): who may be, who is (id → "@name" in the text) */
  NatterComposerMentionFunc mention_func;
  gpointer mention_data;
  GtkWidget *mention_popover;
  GHashTable *mentioned;
  gboolean mention_all;
  GtkWidget *context_bar;    /* replying to / editing, see natter_composer_set_context() */
  GtkImage *context_icon;
  GtkLabel *context_title;
  GtkLabel *context_snippet;
};

G_DEFINE_FINAL_TYPE (NatterComposer, natter_composer, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_ENTER_SENDS,
  PROP_MICROPHONE,
  N_PROPS
};

enum {
  SEND_TEXT,
  SEND_FILES,
  SEND_VOICE,
  TEXT_CHANGED,
  CONTEXT_CANCELLED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

gboolean
natter_composer_get_enter_sends (NatterComposer *self)
{
  g_return_val_if_fail (NATTER_IS_COMPOSER (self), TRUE);
  return self->enter_sends;
}

void
natter_composer_set_enter_sends (NatterComposer *self,
                                 gboolean        enter_sends)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));

  enter_sends = !!enter_sends;
  if (self->enter_sends == enter_sends)
    return;
  self->enter_sends = enter_sends;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENTER_SENDS]);
}

const char *
natter_composer_get_microphone (NatterComposer *self)
{
  g_return_val_if_fail (NATTER_IS_COMPOSER (self), NULL);
  return self->microphone;
}

void
natter_composer_set_microphone (NatterComposer *self,
                                const char     *microphone)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));

  if (g_strcmp0 (self->microphone, microphone) == 0)
    return;
  g_free (self->microphone);
  self->microphone = g_strdup (microphone);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE]);
}

char *
natter_composer_dup_text (NatterComposer *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (NATTER_IS_COMPOSER (self), NULL);

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
natter_composer_set_text (NatterComposer *self,
                          const char     *text)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));

  self->quiet = TRUE;
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), text != NULL ? text : "", -1);
  self->quiet = FALSE;
}

void
natter_composer_focus (NatterComposer *self)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

GtkTextView *
natter_composer_get_text_view (NatterComposer *self)
{
  g_return_val_if_fail (NATTER_IS_COMPOSER (self), NULL);
  return self->text_view;
}

void
natter_composer_set_cache_dir (NatterComposer *self,
                               const char     *dir)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));
  g_free (self->cache_dir);
  self->cache_dir = g_strdup (dir);
}

static char *
cache_path (NatterComposer *self,
            const char     *prefix,
            const char     *suffix)
{
  const char *dir = self->cache_dir != NULL ? self->cache_dir : g_get_user_cache_dir ();
  g_autofree char *name = g_strdup_printf ("%s-%" G_GINT64_FORMAT "%s", prefix,
                                           g_get_real_time (), suffix);

  g_mkdir_with_parents (dir, 0700);
  return g_build_filename (dir, name, NULL);
}

void
natter_composer_send (NatterComposer *self)
{
  g_autofree char *text = NULL;

  g_return_if_fail (NATTER_IS_COMPOSER (self));

  text = natter_composer_dup_text (self);
  g_strstrip (text);
  if (*text == '\0')
    return;
  g_signal_emit (self, signals[SEND_TEXT], 0, text);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", -1);
}

/* ---------------------------------------------------------------- @mentions */

/* The "@…" the cursor is in: from an "@" at the start or after a space to
 * the cursor, no space in between. */
static gboolean
mention_at_cursor (NatterComposer *self,
                   GtkTextIter    *at,
                   char          **query)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GtkTextIter cursor, iter;

  gtk_text_buffer_get_iter_at_mark (buffer, &cursor, gtk_text_buffer_get_insert (buffer));
  iter = cursor;
  while (gtk_text_iter_backward_char (&iter))
    {
      gunichar c = gtk_text_iter_get_char (&iter);

      if (g_unichar_isspace (c))
        return FALSE;
      if (c == '@')
        {
          GtkTextIter before = iter;

          if (gtk_text_iter_backward_char (&before) && !g_unichar_isspace (gtk_text_iter_get_char (&before)))
            return FALSE;
          *at = iter;
          gtk_text_iter_forward_char (&iter);
          *query = gtk_text_buffer_get_text (buffer, &iter, &cursor, FALSE);
          return TRUE;
        }
    }
  return FALSE;
}

static void
update_mention (NatterComposer *self)
{
  g_autofree char *query = NULL;
  GtkTextIter at;
  gboolean shown = self->mention_popover != NULL && gtk_widget_get_visible (self->mention_popover);

  if (self->mention_func == NULL || !mention_at_cursor (self, &at, &query))
    {
      if (shown)
        gtk_popover_popdown (GTK_POPOVER (self->mention_popover));
      return;
    }

  if (!shown)
    {
      g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      gboolean everyone = FALSE;
      GdkRectangle rect;

      self->mention_func (self, ids, names, &everyone, self->mention_data);
      natter_mention_popover_set_candidates (NATTER_MENTION_POPOVER (self->mention_popover), ids, names,
                                             everyone);
      gtk_text_view_get_iter_location (self->text_view, &at, &rect);
      gtk_text_view_buffer_to_window_coords (self->text_view, GTK_TEXT_WINDOW_WIDGET, rect.x, rect.y,
                                             &rect.x, &rect.y);
      gtk_popover_set_pointing_to (GTK_POPOVER (self->mention_popover), &rect);
    }
  if (natter_mention_popover_filter (NATTER_MENTION_POPOVER (self->mention_popover), query))
    gtk_popover_popup (GTK_POPOVER (self->mention_popover));
  else if (shown)
    gtk_popover_popdown (GTK_POPOVER (self->mention_popover));
}

static void
mention_picked_cb (NatterComposer *self,
                   const char     *user_id,
                   const char     *name)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  g_autofree char *query = NULL;
  g_autofree char *text = g_strdup_printf ("@%s ", name);
  GtkTextIter at, cursor;

  gtk_popover_popdown (GTK_POPOVER (self->mention_popover));
  if (!mention_at_cursor (self, &at, &query))
    return;
  gtk_text_buffer_get_iter_at_mark (buffer, &cursor, gtk_text_buffer_get_insert (buffer));
  gtk_text_buffer_begin_user_action (buffer);
  gtk_text_buffer_delete (buffer, &at, &cursor);
  gtk_text_buffer_insert (buffer, &at, text, -1);
  gtk_text_buffer_end_user_action (buffer);
  if (user_id == NULL)
    self->mention_all = TRUE;
  else
    g_hash_table_replace (self->mentioned, g_strdup (user_id), g_strdup_printf ("@%s", name));
  gtk_popover_popdown (GTK_POPOVER (self->mention_popover));
}

void
natter_composer_set_mention_func (NatterComposer            *self,
                                  NatterComposerMentionFunc  func,
                                  gpointer                   user_data)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));

  self->mention_func = func;
  self->mention_data = user_data;
  g_hash_table_remove_all (self->mentioned);
  self->mention_all = FALSE;
  if (func == NULL && self->mention_popover != NULL)
    gtk_popover_popdown (GTK_POPOVER (self->mention_popover));
}

GStrv
natter_composer_dup_mentions (NatterComposer *self,
                              gboolean       *all)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *text = NULL;
  GHashTableIter iter;
  gpointer id, shown;

  g_return_val_if_fail (NATTER_IS_COMPOSER (self), NULL);

  /* Only those whose "@name" is still in the text. */
  text = natter_composer_dup_text (self);
  g_hash_table_iter_init (&iter, self->mentioned);
  while (g_hash_table_iter_next (&iter, &id, &shown))
    if (strstr (text, shown) != NULL)
      g_strv_builder_add (builder, id);
  if (all != NULL)
    *all = self->mention_all;
  return g_strv_builder_end (builder);
}

GtkWidget *
natter_composer_get_mention_popover (NatterComposer *self)
{
  g_return_val_if_fail (NATTER_IS_COMPOSER (self), NULL);
  return self->mention_popover;
}

static void
buffer_changed_cb (NatterComposer *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  gboolean empty = gtk_text_buffer_get_char_count (buffer) == 0;

  gtk_widget_set_visible (self->placeholder, empty);
  gtk_stack_set_visible_child_name (self->button_stack, empty ? "record" : "send");
  if (empty)
    {
      g_hash_table_remove_all (self->mentioned);
      self->mention_all = FALSE;
    }
  update_mention (self);
  if (!self->quiet)
    g_signal_emit (self, signals[TEXT_CHANGED], 0);
}

static gboolean
key_pressed_cb (NatterComposer        *self,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                GtkEventControllerKey *controller)
{
  gboolean shift = (state & GDK_SHIFT_MASK) != 0;
  gboolean ctrl = (state & GDK_CONTROL_MASK) != 0;

  /* The @mention popover takes the keys it needs while it shows. */
  if (self->mention_popover != NULL && gtk_widget_get_visible (self->mention_popover))
    switch (keyval)
      {
      case GDK_KEY_Up:
      case GDK_KEY_KP_Up:
        natter_mention_popover_move (NATTER_MENTION_POPOVER (self->mention_popover), -1);
        return TRUE;
      case GDK_KEY_Down:
      case GDK_KEY_KP_Down:
        natter_mention_popover_move (NATTER_MENTION_POPOVER (self->mention_popover), 1);
        return TRUE;
      case GDK_KEY_Return:
      case GDK_KEY_KP_Enter:
      case GDK_KEY_ISO_Enter:
      case GDK_KEY_Tab:
        if (natter_mention_popover_pick (NATTER_MENTION_POPOVER (self->mention_popover)))
          return TRUE;
        break;
      case GDK_KEY_Escape:
        gtk_popover_popdown (GTK_POPOVER (self->mention_popover));
        return TRUE;
      default:
        break;
      }

  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return FALSE;
  if (shift)
    return FALSE;  /* new line */
  if (self->enter_sends ? !ctrl : ctrl)
    {
      natter_composer_send (self);
      return TRUE;
    }
  return FALSE;
}

static void
emoji_picked_cb (NatterComposer *self,
                 const char     *emoji)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);

  gtk_text_buffer_insert_at_cursor (buffer, emoji, -1);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static void
emit_files (NatterComposer *self,
            GFile         **files,
            guint           n_files,
            gboolean        as_images)
{
  g_autoptr(GListStore) store = g_list_store_new (G_TYPE_FILE);

  for (guint i = 0; i < n_files; i++)
    g_list_store_append (store, files[i]);
  if (n_files > 0)
    g_signal_emit (self, signals[SEND_FILES], 0, store, as_images);
}

/* The emoji chooser loads all emoji data: only when first opened. */
static void
create_emoji_popup (GtkMenuButton *button,
                    gpointer       user_data)
{
  NatterComposer *self = user_data;
  GtkWidget *chooser;

  if (gtk_menu_button_get_popover (button) != NULL)
    return;
  chooser = gtk_emoji_chooser_new ();
  g_signal_connect_swapped (chooser, "emoji-picked", G_CALLBACK (emoji_picked_cb), self);
  gtk_menu_button_set_popover (button, chooser);
}

/* ---------------------------------------------------------- attachments */

static void
chooser_response_cb (GtkNativeDialog *chooser,
                     int              response,
                     NatterComposer  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
      g_autoptr(GPtrArray) array = g_ptr_array_new_with_free_func (g_object_unref);
      gboolean as_images = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (chooser), "images"));

      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        g_ptr_array_add (array, g_list_model_get_item (files, i));
      emit_files (self, (GFile **) array->pdata, array->len, as_images);
    }
  g_object_unref (chooser);
}

static void
attach (NatterComposer *self,
        gboolean        images)
{
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (images ? _("Send Photos") : _("Send Files"),
                                         GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                         GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Send"), _("_Cancel"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  if (images)
    {
      g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, _("Images"));
      /* what the receiving side decodes (natter-image.h) */
      gtk_file_filter_add_mime_type (filter, "image/png");
      gtk_file_filter_add_mime_type (filter, "image/jpeg");
      gtk_file_filter_add_mime_type (filter, "image/webp");
      gtk_file_filter_add_mime_type (filter, "image/gif");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
    }
  g_object_set_data (G_OBJECT (chooser), "images", GINT_TO_POINTER (images));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
attach_image_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  attach (NATTER_COMPOSER (widget), TRUE);
}

static void
attach_file_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  attach (NATTER_COMPOSER (widget), FALSE);
}

static void
send_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  natter_composer_send (NATTER_COMPOSER (widget));
}

/* ---------------------------------------------------------------- paste */

static void
save_png_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  GdkTexture *texture = task_data;
  const char *path = g_object_get_data (G_OBJECT (task), "path");

  if (!gdk_texture_save_to_png (texture, path))
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                             _("Could not save the pasted image"));
  else
    g_task_return_boolean (task, TRUE);
}

static void
save_png_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  NatterComposer *self = NATTER_COMPOSER (object);
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_autoptr(GFile) file = g_file_new_for_path (g_object_get_data (G_OBJECT (result), "path"));
      emit_files (self, &file, 1, TRUE);
    }
  else
    g_warning ("%s", error->message);
}

static void
read_texture_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NatterComposer) self = user_data;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;

  texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (object), result, &error);
  if (texture == NULL)
    {
      g_message ("Pasting an image failed: %s", error->message);
      return;
    }
  task = g_task_new (self, NULL, save_png_cb, NULL);
  g_object_set_data_full (G_OBJECT (task), "path", cache_path (self, "pasted", ".png"), g_free);
  g_task_set_task_data (task, g_steal_pointer (&texture), g_object_unref);
  g_task_run_in_thread (task, save_png_thread);
}

static void
read_files_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NatterComposer) self = user_data;
  g_autoptr(GError) error = NULL;
  const GValue *value;
  GSList *files;
  g_autoptr(GPtrArray) array = g_ptr_array_new ();

  value = gdk_clipboard_read_value_finish (GDK_CLIPBOARD (object), result, &error);
  if (value == NULL)
    {
      g_message ("Pasting files failed: %s", error->message);
      return;
    }
  files = g_value_get_boxed (value);
  for (GSList *l = files; l != NULL; l = l->next)
    g_ptr_array_add (array, l->data);
  emit_files (self, (GFile **) array->pdata, array->len, FALSE);
}

static void
paste_clipboard_cb (NatterComposer *self,
                    GtkTextView    *text_view)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (text_view));
  GdkContentFormats *formats = gdk_clipboard_get_formats (clipboard);

  if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_FILE_LIST))
    {
      g_signal_stop_emission_by_name (text_view, "paste-clipboard");
      gdk_clipboard_read_value_async (clipboard, GDK_TYPE_FILE_LIST, G_PRIORITY_DEFAULT, NULL,
                                      read_files_cb, g_object_ref (self));
    }
  else if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE) &&
           !gdk_content_formats_contain_mime_type (formats, "text/plain") &&
           !gdk_content_formats_contain_mime_type (formats, "text/plain;charset=utf-8"))
    {
      g_signal_stop_emission_by_name (text_view, "paste-clipboard");
      gdk_clipboard_read_texture_async (clipboard, NULL, read_texture_cb, g_object_ref (self));
    }
}

/* ------------------------------------------------------------ recording */

static void
elapsed_cb (NatterComposer *self)
{
  g_autofree char *time = natter_format_duration (natter_call_module_peek ()->recorder_get_elapsed (self->recorder));
  /* Translators: shown while recording a voice message, with the time so far */
  g_autofree char *text = g_strdup_printf (_("Recording… %s"), time);

  gtk_label_set_label (self->recording_label, text);
}

static void
stop_recording_ui (NatterComposer *self)
{
  if (self->recorder != NULL)
    g_signal_handlers_disconnect_by_data (self->recorder, self);
  g_clear_object (&self->recorder);
  gtk_stack_set_visible_child_name (self->stack, "compose");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "composer.record", TRUE);
}

static void
recorder_finished_cb (NatterComposer *self,
                      GFile          *file,
                      int             seconds)
{
  g_autoptr(GFile) hold = g_object_ref (file);

  stop_recording_ui (self);
  g_signal_emit (self, signals[SEND_VOICE], 0, hold, seconds);
}

static void
recorder_failed_cb (NatterComposer *self,
                    GError         *error)
{
  stop_recording_ui (self);
  gtk_widget_error_bell (GTK_WIDGET (self));
  gtk_widget_set_tooltip_text (gtk_stack_get_child_by_name (self->button_stack, "record"),
                               error->message);
}

static void
start_recording (NatterComposer         *self,
                 const NatterCallModule *module)
{
  g_autofree char *path = cache_path (self, "voice", ".ogg");
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;

  self->recorder = module->recorder_new (file, self->microphone);
  g_signal_connect_swapped (self->recorder, "notify::elapsed", G_CALLBACK (elapsed_cb), self);
  g_signal_connect_swapped (self->recorder, "finished", G_CALLBACK (recorder_finished_cb), self);
  g_signal_connect_swapped (self->recorder, "failed", G_CALLBACK (recorder_failed_cb), self);
  if (!module->recorder_start (self->recorder, &error))
    {
      recorder_failed_cb (self, error);
      return;
    }
  elapsed_cb (self);
  gtk_stack_set_visible_child_name (self->stack, "recording");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "composer.record", FALSE);
}

static void
record_module_ready (gpointer                object,
                     const NatterCallModule *module)
{
  NatterComposer *self = object;

  /* disposed meanwhile (no cache directory then): nothing to record for */
  if (self->cache_dir == NULL)
    return;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "composer.record", TRUE);
  if (module == NULL)
    gtk_widget_error_bell (GTK_WIDGET (self));
  else if (self->recorder == NULL)
    start_recording (self, module);
}

static void
record_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterComposer *self = NATTER_COMPOSER (widget);

  if (self->recorder != NULL)
    return;
  /* the first recording may come before the call module's preload
   * ended: it waits for the module, not opened on the main thread */
  gtk_widget_action_set_enabled (widget, "composer.record", FALSE);
  natter_call_module_with (self, record_module_ready);
}

static void
finish_recording_activated (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  NatterComposer *self = NATTER_COMPOSER (widget);

  if (self->recorder != NULL)
    natter_call_module_peek ()->recorder_stop (self->recorder);
}

static void
cancel_recording_activated (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  NatterComposer *self = NATTER_COMPOSER (widget);

  if (self->recorder != NULL)
    natter_call_module_peek ()->recorder_cancel (self->recorder);
  stop_recording_ui (self);
}

/* -------------------------------------------------- reply and edit bar */

void
natter_composer_set_context (NatterComposer *self,
                             const char     *icon_name,
                             const char     *title,
                             const char     *snippet)
{
  g_return_if_fail (NATTER_IS_COMPOSER (self));

  gtk_widget_set_visible (self->context_bar, title != NULL);
  if (title == NULL)
    return;
  gtk_image_set_from_icon_name (self->context_icon, icon_name);
  gtk_label_set_label (self->context_title, title);
  gtk_label_set_label (self->context_snippet, snippet != NULL ? snippet : "");
  gtk_widget_set_visible (GTK_WIDGET (self->context_snippet), snippet != NULL && *snippet != '\0');
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

gboolean
natter_composer_has_context (NatterComposer *self)
{
  g_return_val_if_fail (NATTER_IS_COMPOSER (self), FALSE);
  return gtk_widget_get_visible (self->context_bar);
}

static void
cancel_context (NatterComposer *self)
{
  if (!natter_composer_has_context (self))
    return;
  gtk_widget_set_visible (self->context_bar, FALSE);
  g_signal_emit (self, signals[CONTEXT_CANCELLED], 0);
}

static gboolean
context_key_pressed_cb (NatterComposer        *self,
                        guint                  keyval,
                        guint                  keycode,
                        GdkModifierType        state,
                        GtkEventControllerKey *controller)
{
  if (keyval != GDK_KEY_Escape || !natter_composer_has_context (self))
    return FALSE;
  cancel_context (self);
  return TRUE;
}

static void
build_context_bar (NatterComposer *self)
{
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *cancel = gtk_button_new_from_icon_name ("window-close-symbolic");
  GtkEventController *keys;

  self->context_bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  gtk_widget_add_css_class (self->context_bar, "composer-context");
  gtk_widget_set_visible (self->context_bar, FALSE);
  self->context_icon = GTK_IMAGE (gtk_image_new ());
  gtk_widget_add_css_class (GTK_WIDGET (self->context_icon), "accent");
  gtk_box_append (GTK_BOX (self->context_bar), GTK_WIDGET (self->context_icon));

  self->context_title = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->context_title, 0);
  gtk_label_set_ellipsize (self->context_title, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->context_title), "accent");
  gtk_widget_add_css_class (GTK_WIDGET (self->context_title), "heading");
  self->context_snippet = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->context_snippet, 0);
  gtk_label_set_ellipsize (self->context_snippet, PANGO_ELLIPSIZE_END);
  gtk_label_set_single_line_mode (self->context_snippet, TRUE);
  gtk_box_append (GTK_BOX (texts), GTK_WIDGET (self->context_title));
  gtk_box_append (GTK_BOX (texts), GTK_WIDGET (self->context_snippet));
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_box_append (GTK_BOX (self->context_bar), texts);

  gtk_widget_set_valign (cancel, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (cancel, "flat");
  gtk_widget_add_css_class (cancel, "circular");
  gtk_widget_set_tooltip_text (cancel, _("Cancel"));
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (cancel_context), self);
  gtk_box_append (GTK_BOX (self->context_bar), cancel);

  gtk_widget_insert_after (self->context_bar, GTK_WIDGET (self), NULL);

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (keys, "key-pressed", G_CALLBACK (context_key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), keys);
}

static void
natter_composer_dispose (GObject *object)
{
  NatterComposer *self = (NatterComposer *) object;

  if (self->recorder != NULL)
    natter_call_module_peek ()->recorder_cancel (self->recorder);
  stop_recording_ui (self);
  g_clear_pointer (&self->cache_dir, g_free);
  g_clear_pointer (&self->microphone, g_free);
  g_clear_pointer (&self->mention_popover, gtk_widget_unparent);
  g_clear_pointer (&self->mentioned, g_hash_table_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_COMPOSER);
  /* template children that are not bound to a field */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (natter_composer_parent_class)->dispose (object);
}

static void
natter_composer_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  NatterComposer *self = NATTER_COMPOSER (object);

  switch (prop_id)
    {
    case PROP_ENTER_SENDS:
      g_value_set_boolean (value, self->enter_sends);
      break;
    case PROP_MICROPHONE:
      g_value_set_string (value, self->microphone);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_composer_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  NatterComposer *self = NATTER_COMPOSER (object);

  switch (prop_id)
    {
    case PROP_ENTER_SENDS:
      natter_composer_set_enter_sends (self, g_value_get_boolean (value));
      break;
    case PROP_MICROPHONE:
      natter_composer_set_microphone (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_composer_class_init (NatterComposerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = natter_composer_dispose;
  object_class->get_property = natter_composer_get_property;
  object_class->set_property = natter_composer_set_property;

  properties[PROP_ENTER_SENDS] =
    g_param_spec_boolean ("enter-sends", NULL, "Enter sends (else Ctrl+Enter)", TRUE, rw);
  properties[PROP_MICROPHONE] =
    g_param_spec_string ("microphone", NULL, "The recording device's display name; NULL or empty: the default",
                         NULL, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SEND_TEXT] =
    g_signal_new ("send-text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SEND_FILES] =
    g_signal_new ("send-files", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_LIST_MODEL, G_TYPE_BOOLEAN);
  signals[SEND_VOICE] =
    g_signal_new ("send-voice", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_FILE, G_TYPE_INT);
  signals[TEXT_CHANGED] =
    g_signal_new ("text-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  signals[CONTEXT_CANCELLED] =
    g_signal_new ("context-cancelled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-composer.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterComposer, stack);
  gtk_widget_class_bind_template_child (widget_class, NatterComposer, emoji_button);
  gtk_widget_class_bind_template_child (widget_class, NatterComposer, text_view);
  gtk_widget_class_bind_template_child (widget_class, NatterComposer, placeholder);
  gtk_widget_class_bind_template_child (widget_class, NatterComposer, button_stack);
  gtk_widget_class_bind_template_child (widget_class, NatterComposer, recording_label);

  gtk_widget_class_install_action (widget_class, "composer.send", NULL, send_activated);
  gtk_widget_class_install_action (widget_class, "composer.attach-image", NULL, attach_image_activated);
  gtk_widget_class_install_action (widget_class, "composer.attach-file", NULL, attach_file_activated);
  gtk_widget_class_install_action (widget_class, "composer.record", NULL, record_activated);
  gtk_widget_class_install_action (widget_class, "composer.finish-recording", NULL, finish_recording_activated);
  gtk_widget_class_install_action (widget_class, "composer.cancel-recording", NULL, cancel_recording_activated);

  gtk_widget_class_set_css_name (widget_class, "composer");
}

static void
natter_composer_init (NatterComposer *self)
{
  GtkEventController *keys;

  self->enter_sends = TRUE;
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_menu_button_set_create_popup_func (self->emoji_button, create_emoji_popup, self, NULL);

  self->mentioned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->mention_popover = natter_mention_popover_new ();
  gtk_widget_set_parent (self->mention_popover, GTK_WIDGET (self->text_view));
  g_signal_connect_swapped (self->mention_popover, "picked", G_CALLBACK (mention_picked_cb), self);
  g_signal_connect_swapped (gtk_text_view_get_buffer (self->text_view), "changed",
                            G_CALLBACK (buffer_changed_cb), self);
  /* the cursor moving in or out of an "@…" */
  g_signal_connect_swapped (gtk_text_view_get_buffer (self->text_view), "notify::cursor-position",
                            G_CALLBACK (update_mention), self);
  g_signal_connect_swapped (self->text_view, "paste-clipboard",
                            G_CALLBACK (paste_clipboard_cb), self);

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), keys);

  build_context_bar (self);
}

GtkWidget *
natter_composer_new (void)
{
  return g_object_new (NATTER_TYPE_COMPOSER, NULL);
}
