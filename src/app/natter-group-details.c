/* natter-group-details.c — a group's members, roles and settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format-accounts.h"
#include "natter-group-details.h"

struct _NatterGroupDetails
{
  AdwWindow parent_instance;

  NatterAccountService *service;
  GCancellable *cancellable;
  char *group_id;
  char *self_id;
  NatterGroupRole role;         /* mine */
  gboolean loading;             /* settings being shown: no requests */
  NatterGroupAction last_action;

  AdwEntryRow *name_row;
  AdwEntryRow *announcement_row;
  GtkSwitch *mute_switch;
  GtkWidget *mute_row;
  AdwEntryRow *add_row;
  GtkListBox *members_list;
  GtkWidget *dismiss_button;
  GtkLabel *status_label;
};

G_DEFINE_FINAL_TYPE (NatterGroupDetails, natter_group_details, ADW_TYPE_WINDOW)

static const char *
role_name (NatterGroupRole role)
{
  switch (role)
    {
    case NATTER_GROUP_ROLE_OWNER:
      return _("Owner");
    case NATTER_GROUP_ROLE_ADMIN:
      return _("Admin");
    case NATTER_GROUP_ROLE_MEMBER:
    default:
      return _("Member");
    }
}

static void
show_status (NatterGroupDetails *self,
             const GError       *error)
{
  g_autofree char *message = error != NULL ? natter_format_account_error (error) : NULL;

  gtk_label_set_label (self->status_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), message != NULL);
}

/* ------------------------------------------------------------- changes */

static void
changed_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterGroupDetails) self = user_data;
  g_autoptr(GError) error = NULL;
  NatterGroupAction action = self->last_action;

  if (!natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_status (self, error);
      natter_group_details_reload (self);
      return;
    }
  show_status (self, NULL);
  /* Out of the group: nothing more to show. */
  if (action == NATTER_GROUP_ACTION_LEAVE || action == NATTER_GROUP_ACTION_DISMISS)
    gtk_window_destroy (GTK_WINDOW (self));
  else
    natter_group_details_reload (self);
}

static void
run_action (NatterGroupDetails *self,
            NatterGroupAction   action,
            const char         *value,
            const char         *member)
{
  const char *members[] = { member, NULL };

  if (self->loading)
    return;
  self->last_action = action;
  natter_account_service_group_async (self->service, action, self->group_id, value,
                                      member != NULL ? members : NULL, self->cancellable,
                                      changed_cb, g_object_ref (self));
}

static void
name_applied_cb (NatterGroupDetails *self)
{
  run_action (self, NATTER_GROUP_ACTION_RENAME, gtk_editable_get_text (GTK_EDITABLE (self->name_row)), NULL);
}

static void
announcement_applied_cb (NatterGroupDetails *self)
{
  run_action (self, NATTER_GROUP_ACTION_ANNOUNCEMENT,
              gtk_editable_get_text (GTK_EDITABLE (self->announcement_row)), NULL);
}

static void
add_applied_cb (NatterGroupDetails *self)
{
  g_autofree char *user_id = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->add_row))));

  if (*user_id == '\0')
    return;
  gtk_editable_set_text (GTK_EDITABLE (self->add_row), "");
  run_action (self, NATTER_GROUP_ACTION_ADD, NULL, user_id);
}

static void
mute_changed_cb (NatterGroupDetails *self)
{
  run_action (self, gtk_switch_get_active (self->mute_switch) ? NATTER_GROUP_ACTION_MUTE_ALL
                                                              : NATTER_GROUP_ACTION_UNMUTE_ALL, NULL, NULL);
}

static void
remove_clicked_cb (GtkButton          *button,
                   NatterGroupDetails *self)
{
  run_action (self, NATTER_GROUP_ACTION_REMOVE, NULL, g_object_get_data (G_OBJECT (button), "user-id"));
}

static void
leave_clicked_cb (NatterGroupDetails *self)
{
  run_action (self, NATTER_GROUP_ACTION_LEAVE, NULL, NULL);
}

static void
dismiss_clicked_cb (NatterGroupDetails *self)
{
  run_action (self, NATTER_GROUP_ACTION_DISMISS, NULL, NULL);
}

/* --------------------------------------------------------------- loading */

/* The owner removes anyone but themselves; an admin removes members. */
static gboolean
may_remove (NatterGroupDetails *self,
            NatterAccountUser  *member)
{
  if (g_strcmp0 (member->user_id, self->self_id) == 0)
    return FALSE;
  return self->role == NATTER_GROUP_ROLE_OWNER ||
         (self->role == NATTER_GROUP_ROLE_ADMIN && member->role == NATTER_GROUP_ROLE_MEMBER);
}

static void
members_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterGroupDetails) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) members = NULL;
  GtkWidget *child;

  members = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (members == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_status (self, error);
      return;
    }
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->members_list))) != NULL)
    gtk_list_box_remove (self->members_list, child);

  for (guint i = 0; i < members->len; i++)
    {
      NatterAccountUser *member = g_ptr_array_index (members, i);
      const char *name = *member->name != '\0' ? member->name : member->user_id;
      GtkWidget *row = adw_action_row_new ();

      if (g_strcmp0 (member->user_id, self->self_id) == 0)
        self->role = member->role;
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), role_name (member->role));
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), adw_avatar_new (32, name, TRUE));
      gtk_list_box_append (self->members_list, row);
    }
  /* Remove buttons once my own role is known. */
  child = gtk_widget_get_first_child (GTK_WIDGET (self->members_list));
  for (guint i = 0; i < members->len && child != NULL; i++, child = gtk_widget_get_next_sibling (child))
    {
      NatterAccountUser *member = g_ptr_array_index (members, i);
      GtkWidget *remove;

      if (!may_remove (self, member))
        continue;
      remove = gtk_button_new_from_icon_name ("list-remove-symbolic");
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_set_tooltip_text (remove, _("Remove from the Group"));
      g_object_set_data_full (G_OBJECT (remove), "user-id", g_strdup (member->user_id), g_free);
      g_signal_connect_object (remove, "clicked", G_CALLBACK (remove_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (child), remove);
    }

  {
    gboolean manager = self->role != NATTER_GROUP_ROLE_MEMBER;

    gtk_editable_set_editable (GTK_EDITABLE (self->name_row), manager);
    gtk_editable_set_editable (GTK_EDITABLE (self->announcement_row), manager);
    gtk_widget_set_sensitive (self->mute_row, manager);
    gtk_widget_set_visible (self->dismiss_button, self->role == NATTER_GROUP_ROLE_OWNER);
  }
}

static void
groups_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NatterGroupDetails) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) groups = NULL;

  groups = natter_account_service_list_groups_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  for (guint i = 0; groups != NULL && i < groups->len; i++)
    {
      NatterAccountGroup *group = g_ptr_array_index (groups, i);

      if (!g_str_equal (group->group_id, self->group_id))
        continue;
      self->loading = TRUE;
      gtk_window_set_title (GTK_WINDOW (self), group->name);
      /* What the server has is no edit to apply. */
      adw_entry_row_set_show_apply_button (self->name_row, FALSE);
      adw_entry_row_set_show_apply_button (self->announcement_row, FALSE);
      gtk_editable_set_text (GTK_EDITABLE (self->name_row), group->name);
      gtk_editable_set_text (GTK_EDITABLE (self->announcement_row), group->announcement);
      adw_entry_row_set_show_apply_button (self->name_row, TRUE);
      adw_entry_row_set_show_apply_button (self->announcement_row, TRUE);
      gtk_switch_set_active (self->mute_switch, group->mute_all);
      self->loading = FALSE;
    }
}

void
natter_group_details_reload (NatterGroupDetails *self)
{
  g_return_if_fail (NATTER_IS_GROUP_DETAILS (self));

  natter_account_service_list_groups_async (self->service, self->cancellable, groups_cb, g_object_ref (self));
  natter_account_service_list_members_async (self->service, self->group_id, self->cancellable,
                                             members_cb, g_object_ref (self));
}

/* --------------------------------------------------------------- GObject */

static void
natter_group_details_dispose (GObject *object)
{
  NatterGroupDetails *self = NATTER_GROUP_DETAILS (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->service);
  g_clear_pointer (&self->group_id, g_free);
  g_clear_pointer (&self->self_id, g_free);

  G_OBJECT_CLASS (natter_group_details_parent_class)->dispose (object);
}

static void
natter_group_details_class_init (NatterGroupDetailsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_group_details_dispose;
}

static AdwEntryRow *
entry_row_new (GtkWidget  *group,
               const char *title,
               GCallback   applied,
               gpointer    self)
{
  AdwEntryRow *row = ADW_ENTRY_ROW (adw_entry_row_new ());

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_entry_row_set_show_apply_button (row, TRUE);
  g_signal_connect_object (row, "apply", applied, self, G_CONNECT_SWAPPED);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (row));
  return row;
}

static void
natter_group_details_init (NatterGroupDetails *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 24);
  GtkWidget *settings = adw_preferences_group_new ();
  GtkWidget *members = adw_preferences_group_new ();
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *leave = gtk_button_new_with_mnemonic (_("_Leave Group"));

  self->cancellable = g_cancellable_new ();
  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  g_object_set (content, "margin-top", 18, "margin-bottom", 18, "margin-start", 12, "margin-end", 12, NULL);

  self->name_row = entry_row_new (settings, _("Group Name"), G_CALLBACK (name_applied_cb), self);
  self->announcement_row = entry_row_new (settings, _("Announcement"), G_CALLBACK (announcement_applied_cb), self);
  self->mute_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->mute_row), _("Mute All"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->mute_row), _("Only the owner and admins may send"));
  self->mute_switch = GTK_SWITCH (gtk_switch_new ());
  gtk_widget_set_valign (GTK_WIDGET (self->mute_switch), GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (self->mute_row), GTK_WIDGET (self->mute_switch));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (self->mute_row), GTK_WIDGET (self->mute_switch));
  g_signal_connect_object (self->mute_switch, "notify::active", G_CALLBACK (mute_changed_cb), self, G_CONNECT_SWAPPED);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (settings), self->mute_row);
  gtk_box_append (GTK_BOX (content), settings);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (members), _("Members"));
  self->add_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->add_row), _("Add Member by User ID"));
  adw_entry_row_set_show_apply_button (self->add_row, TRUE);
  g_signal_connect_object (self->add_row, "apply", G_CALLBACK (add_applied_cb), self, G_CONNECT_SWAPPED);
  self->members_list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->members_list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->members_list), "boxed-list");
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (members), GTK_WIDGET (self->members_list));
  gtk_box_append (GTK_BOX (content), members);
  {
    GtkWidget *add = adw_preferences_group_new ();

    adw_preferences_group_add (ADW_PREFERENCES_GROUP (add), GTK_WIDGET (self->add_row));
    gtk_box_append (GTK_BOX (content), add);
  }

  self->status_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->status_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), FALSE);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->status_label));

  gtk_widget_set_halign (buttons, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (leave, "pill");
  g_signal_connect_object (leave, "clicked", G_CALLBACK (leave_clicked_cb), self, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (buttons), leave);
  self->dismiss_button = gtk_button_new_with_mnemonic (_("_Dismiss Group"));
  gtk_widget_add_css_class (self->dismiss_button, "pill");
  gtk_widget_add_css_class (self->dismiss_button, "destructive-action");
  gtk_widget_set_visible (self->dismiss_button, FALSE);
  g_signal_connect_object (self->dismiss_button, "clicked", G_CALLBACK (dismiss_clicked_cb), self, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (buttons), self->dismiss_button);
  gtk_box_append (GTK_BOX (content), buttons);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), content);
  gtk_box_append (GTK_BOX (box), scrolled);
  adw_window_set_content (ADW_WINDOW (self), box);
}

NatterGroupDetails *
natter_group_details_new (GtkWindow            *parent,
                          NatterAccountService *service,
                          const char           *group_id,
                          const char           *self_id)
{
  NatterGroupDetails *self;

  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (service), NULL);
  g_return_val_if_fail (group_id != NULL, NULL);

  self = g_object_new (NATTER_TYPE_GROUP_DETAILS, "title", _("Group Details"), "transient-for", parent,
                       "modal", TRUE, "default-width", 440, "default-height", 620, NULL);
  self->service = g_object_ref (service);
  self->group_id = g_strdup (group_id);
  self->self_id = g_strdup (self_id);
  natter_group_details_reload (self);
  return self;
}
