/* natter-conversation-row.c — one conversation in the sidebar
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <adwaita.h>
#include <glib/gi18n.h>

#include "natter-conversation-row.h"
#include "natter-format.h"
#include "natter-presence-dot.h"

struct _NatterConversationRow
{
  GtkWidget parent_instance;

  NatterConversation *conversation;
  NatterPortraits *portraits;
  gulong notify_id;
  guint bindings;   /* conversations bound, for the tests (#17) */

  GtkWidget *box;
  AdwAvatar *avatar;
  NatterPresenceDot *presence_dot;
  GtkLabel *title_label;
  GtkImage *muted_icon;
  GtkImage *status_icon;
  GtkLabel *time_label;
  GtkLabel *preview_label;
  GtkImage *pinned_icon;
  GtkLabel *unread_label;
  GtkLabel *mention_label;
  GtkWidget *menu;
};

G_DEFINE_FINAL_TYPE (NatterConversationRow, natter_conversation_row, GTK_TYPE_WIDGET)

/* What a change of the conversation touches: a message arriving changes
 * the preview, the time and the badge, not the title and portrait. */
typedef enum {
  PART_TITLE = 1 << 0,     /* title, avatar, presence dot */
  PART_TIME = 1 << 1,
  PART_PREVIEW = 1 << 2,   /* the last message or draft, its delivery ticks */
  PART_BADGES = 1 << 3,    /* muted, pinned, mention, unread */
  PART_ALL = (1 << 4) - 1,
} Part;

static void
update (NatterConversationRow *self,
        guint                  parts)
{
  NatterConversation *conv = self->conversation;
  NatterMessage *latest;
  g_autofree char *preview = NULL;
  g_autofree char *a11y = NULL;
  guint unread;
  gboolean muted;

  if (conv == NULL)
    return;

  latest = natter_conversation_get_latest_message (conv);
  unread = natter_conversation_get_unread_count (conv);
  muted = natter_conversation_get_muted (conv);

  if (parts & PART_TITLE)
    {
      gtk_label_set_label (self->title_label, natter_conversation_get_title (conv));
      adw_avatar_set_text (self->avatar, natter_conversation_get_title (conv));
      if (self->portraits != NULL)
        natter_portraits_apply (self->portraits, GTK_WIDGET (self->avatar), natter_conversation_get_portrait_uri (conv));
      /* A private chat's peer: online dot (#16) */
      natter_presence_dot_set_user (self->presence_dot,
                                    self->portraits != NULL ? natter_portraits_get_client (self->portraits) : NULL,
                                    natter_conversation_get_conversation_type (conv) == NATTER_CONVERSATION_PRIVATE ?
                                    natter_conversation_get_target_id (conv) : NULL);
    }

  if (parts & PART_TIME)
    {
      g_autofree char *time = natter_format_list_time (natter_conversation_get_updated_time (conv), 0);
      gtk_label_set_label (self->time_label, time);
    }

  if (parts == PART_TIME)
    return;
  preview = natter_format_preview (latest);
  if (parts & PART_PREVIEW)
    {
      const char *draft = natter_conversation_get_draft (conv);
      g_autofree char *markup = NULL;

      if (draft != NULL && *draft != '\0')
        {
          g_autofree char *line = g_strdelimit (g_strdup (draft), "\r\n\t", ' ');
          /* Translators: sidebar preview of an unsent draft; keep the markup */
          markup = g_markup_printf_escaped (_("<span weight=\"bold\" foreground=\"#e01b24\">Draft:</span> %s"), line);
        }
      else if (latest != NULL &&
               natter_message_get_direction (latest) == NATTER_MESSAGE_DIRECTION_SEND &&
               natter_message_get_kind (latest) != NATTER_MESSAGE_KIND_RECALLED &&
               natter_message_get_kind (latest) != NATTER_MESSAGE_KIND_CALL_SUMMARY)
        /* Translators: sidebar preview of a message you sent; keep the markup */
        markup = g_markup_printf_escaped (_("<span weight=\"bold\">You:</span> %s"), preview);
      else if (latest != NULL &&
               natter_conversation_get_conversation_type (conv) != NATTER_CONVERSATION_PRIVATE &&
               natter_message_get_kind (latest) == NATTER_MESSAGE_KIND_TEXT)
        {
          const char *name = natter_message_get_sender_name (latest);
          if (name == NULL || *name == '\0')
            name = natter_message_get_sender_user_id (latest);
          markup = g_markup_printf_escaped ("<span weight=\"bold\">%s:</span> %s", name, preview);
        }
      else
        markup = g_markup_escape_text (preview, -1);
      gtk_label_set_markup (self->preview_label, markup);

      /* delivery ticks of my own last message, as in the chat */
      if (latest != NULL && natter_message_get_direction (latest) == NATTER_MESSAGE_DIRECTION_SEND &&
          natter_message_is_persisted (latest))
        {
          const char *icon = NULL;
          switch (natter_message_get_sent_status (latest))
            {
            case NATTER_SENT_STATUS_SENDING:
              icon = "natter-sending-symbolic";
              break;
            case NATTER_SENT_STATUS_FAILED:
              icon = "dialog-error-symbolic";
              break;
            case NATTER_SENT_STATUS_READ:
              icon = "natter-read-symbolic";
              break;
            case NATTER_SENT_STATUS_SENT:
            case NATTER_SENT_STATUS_RECEIVED:
            default:
              icon = "natter-sent-symbolic";
              break;
            }
          gtk_image_set_from_icon_name (self->status_icon, icon);
          gtk_widget_set_visible (GTK_WIDGET (self->status_icon), TRUE);
        }
      else
        gtk_widget_set_visible (GTK_WIDGET (self->status_icon), FALSE);
    }

  if (parts & PART_BADGES)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->muted_icon), muted);
      gtk_widget_set_visible (GTK_WIDGET (self->pinned_icon),
                              natter_conversation_get_pinned (conv) && unread == 0);
      gtk_widget_set_visible (GTK_WIDGET (self->mention_label),
                              natter_conversation_get_mention_count (conv) > 0);
      if (unread > 0)
        {
          g_autofree char *count = unread > 999 ? g_strdup ("999+") : g_strdup_printf ("%u", unread);
          gtk_label_set_label (self->unread_label, count);
          if (muted)
            gtk_widget_add_css_class (GTK_WIDGET (self->unread_label), "muted");
          else
            gtk_widget_remove_css_class (GTK_WIDGET (self->unread_label), "muted");
        }
      gtk_widget_set_visible (GTK_WIDGET (self->unread_label), unread > 0);
    }

  if (unread > 0)
    /* Translators: what a screen reader says for a conversation: title, unread count, last message */
    a11y = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s, %u unread message, %s",
                                         "%s, %u unread messages, %s", unread),
                            natter_conversation_get_title (conv), unread, preview);
  else
    a11y = g_strdup_printf ("%s, %s", natter_conversation_get_title (conv), preview);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, a11y,
                                  -1);
}

static void
notify_cb (NatterConversationRow *self,
           GParamSpec            *pspec)
{
  const char *name = pspec->name;
  guint parts = PART_ALL;

  if (g_str_equal (name, "latest-message") || g_str_equal (name, "draft"))
    parts = PART_PREVIEW;
  else if (g_str_equal (name, "updated-time"))
    parts = PART_TIME;
  else if (g_str_equal (name, "unread-count") || g_str_equal (name, "mention-count") ||
           g_str_equal (name, "pinned") || g_str_equal (name, "muted"))
    parts = PART_BADGES;
  else if (g_str_equal (name, "title") || g_str_equal (name, "portrait-uri"))
    parts = PART_TITLE;
  update (self, parts);
}

NatterConversation *
natter_conversation_row_get_conversation (NatterConversationRow *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_ROW (self), NULL);
  return self->conversation;
}

void
natter_conversation_row_set_conversation (NatterConversationRow *self,
                                          NatterConversation    *conversation,
                                          NatterPortraits       *portraits)
{
  g_return_if_fail (NATTER_IS_CONVERSATION_ROW (self));

  g_set_object (&self->portraits, portraits);
  if (self->conversation == conversation)
    return;

  if (self->conversation != NULL)
    g_clear_signal_handler (&self->notify_id, self->conversation);
  g_set_object (&self->conversation, conversation);
  if (conversation != NULL)
    {
      self->notify_id = g_signal_connect_swapped (conversation, "notify",
                                                  G_CALLBACK (notify_cb), self);
      self->bindings++;
      update (self, PART_ALL);
    }
}

guint
natter_conversation_row_get_bindings (NatterConversationRow *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_ROW (self), 0);
  return self->bindings;
}

void
natter_conversation_row_popup_menu (NatterConversationRow *self)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) danger = g_menu_new ();
  NatterConversation *conv = self->conversation;
  GVariant *target;

  if (conv == NULL)
    return;

#define ADD(m, label, action)                                                   \
  G_STMT_START {                                                                \
    g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);                  \
    target = g_variant_new ("(is)", natter_conversation_get_conversation_type (conv), \
                            natter_conversation_get_target_id (conv));          \
    g_menu_item_set_action_and_target_value (item, action, target);             \
    g_menu_append_item (m, item);                                               \
  } G_STMT_END

  ADD (menu, natter_conversation_get_pinned (conv) ? _("Unpin") : _("Pin to Top"),
       "sidebar.toggle-pinned");
  ADD (menu, natter_conversation_get_muted (conv) ? _("Unmute") : _("Mute"),
       "sidebar.toggle-muted");
  if (natter_conversation_get_unread_count (conv) > 0)
    ADD (menu, _("Mark as Read"), "sidebar.mark-read");
  if (natter_conversation_get_conversation_type (conv) != NATTER_CONVERSATION_CHATROOM)
    ADD (danger, _("Clear History"), "sidebar.clear-history");
  ADD (danger, _("Delete Chat"), "sidebar.delete");
#undef ADD
  g_menu_append_section (menu, NULL, G_MENU_MODEL (danger));

  if (self->menu == NULL)
    {
      self->menu = gtk_popover_menu_new_from_model (NULL);
      gtk_popover_set_has_arrow (GTK_POPOVER (self->menu), FALSE);
      gtk_widget_set_halign (self->menu, GTK_ALIGN_START);
      gtk_widget_set_parent (self->menu, GTK_WIDGET (self));
    }
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->menu), G_MENU_MODEL (menu));
  gtk_popover_popup (GTK_POPOVER (self->menu));
}

static void
pressed_cb (NatterConversationRow *self,
            int                    n_press,
            double                 x,
            double                 y,
            GtkGesture            *gesture)
{
  gtk_gesture_set_state (gesture, GTK_EVENT_SEQUENCE_CLAIMED);
  natter_conversation_row_popup_menu (self);
  if (self->menu != NULL)
    gtk_popover_set_pointing_to (GTK_POPOVER (self->menu),
                                 &(GdkRectangle) { (int) x, (int) y, 1, 1 });
}

static void
long_pressed_cb (NatterConversationRow *self,
                 double                 x,
                 double                 y,
                 GtkGesture            *gesture)
{
  pressed_cb (self, 1, x, y, gesture);
}

static void
menu_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  natter_conversation_row_popup_menu (NATTER_CONVERSATION_ROW (widget));
}

static void
natter_conversation_row_dispose (GObject *object)
{
  NatterConversationRow *self = (NatterConversationRow *) object;

  natter_conversation_row_set_conversation (self, NULL, NULL);
  g_clear_pointer (&self->menu, gtk_widget_unparent);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_CONVERSATION_ROW);
  /* template children that are not bound to a field */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (natter_conversation_row_parent_class)->dispose (object);
}

static void
natter_conversation_row_class_init (NatterConversationRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_conversation_row_dispose;

  g_type_ensure (NATTER_TYPE_PRESENCE_DOT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/im/natter/Natter/natter-conversation-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, box);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, presence_dot);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, muted_icon);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, status_icon);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, preview_label);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, pinned_icon);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, unread_label);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationRow, mention_label);

  gtk_widget_class_install_action (widget_class, "row.menu", NULL, menu_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F10, GDK_SHIFT_MASK, "row.menu", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Menu, 0, "row.menu", NULL);

  gtk_widget_class_set_css_name (widget_class, "conversationrow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
natter_conversation_row_init (NatterConversationRow *self)
{
  GtkGesture *click;
  GtkGesture *press;

  gtk_widget_init_template (GTK_WIDGET (self));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect_swapped (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  press = gtk_gesture_long_press_new ();
  gtk_gesture_single_set_touch_only (GTK_GESTURE_SINGLE (press), TRUE);
  g_signal_connect_swapped (press, "pressed", G_CALLBACK (long_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (press));
}

GtkWidget *
natter_conversation_row_new (void)
{
  return g_object_new (NATTER_TYPE_CONVERSATION_ROW, NULL);
}
