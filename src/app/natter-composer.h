/* natter-composer.h — where messages are written
 *
 * Multi-line text (Enter sends, Shift+Enter starts a line), emoji, attach
 * by button, paste of images and files, and voice recording with cancel.
 * Properties: enter-sends (else Ctrl+Enter sends; Shift+Enter is always a
 * new line), microphone (the recorder's device by display name, NULL or
 * empty for the default).
 * Signals:
 *   send-text (const char *text)
 *   send-files (GListModel *files, gboolean as_images)  GFiles to attach
 *   send-voice (GFile *file, int seconds)
 *   text-changed ()                                     drafts and typing
 *   context-cancelled ()                                the reply/edit bar's cancel or Escape
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_COMPOSER (natter_composer_get_type ())

G_DECLARE_FINAL_TYPE (NatterComposer, natter_composer, NATTER, COMPOSER, GtkWidget)

GtkWidget *natter_composer_new          (void);
/* Newly allocated. */
char      *natter_composer_dup_text     (NatterComposer *self);
/* Replaces the text without ::text-changed (a draft coming back). */
void       natter_composer_set_text     (NatterComposer *self,
                                         const char     *text);
void       natter_composer_focus        (NatterComposer *self);
/* Sends what is written, as Enter does. */
void       natter_composer_send         (NatterComposer *self);
GtkTextView *natter_composer_get_text_view (NatterComposer *self);
gboolean   natter_composer_get_enter_sends (NatterComposer *self);
void       natter_composer_set_enter_sends (NatterComposer *self,
                                            gboolean        enter_sends);
const char *natter_composer_get_microphone (NatterComposer *self);
void       natter_composer_set_microphone  (NatterComposer *self,
                                            const char     *microphone);
/* @mentions: while the cursor is in an "@…" the composer asks @func for
 * the candidates (ids and names, appended to the arrays, and whether
 * "everyone" is offered) and shows them filtered (Up/Down, Enter or Tab
 * picks, Escape closes); a pick writes "@name ". NULL: no mentions (a
 * private chat). */
typedef void (*NatterComposerMentionFunc) (NatterComposer *composer,
                                           GPtrArray      *ids,
                                           GPtrArray      *names,
                                           gboolean       *everyone,
                                           gpointer        user_data);
void       natter_composer_set_mention_func (NatterComposer            *self,
                                             NatterComposerMentionFunc  func,
                                             gpointer                   user_data);
/* The ids picked whose "@name" is still in the text, and whether
 * "everyone" was (for the message's mentionedInfo, read in ::send-text). */
GStrv      natter_composer_dup_mentions     (NatterComposer *self,
                                             gboolean       *all);
/* The popover (tests). */
GtkWidget *natter_composer_get_mention_popover (NatterComposer *self);
/* Where recordings and pasted images are written. */
void       natter_composer_set_cache_dir (NatterComposer *self,
                                          const char     *dir);
/* The bar above the text that says what the next send does ("Replying to
 * bob", "Editing"): @title NULL hides it. Its cancel button and Escape hide
 * it and emit ::context-cancelled. */
void       natter_composer_set_context  (NatterComposer *self,
                                         const char     *icon_name,
                                         const char     *title,
                                         const char     *snippet);
gboolean   natter_composer_has_context  (NatterComposer *self);

G_END_DECLS
