/* natter-contacts-page.c — contact requests, contacts, "Add Contact"
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-contacts-page.h"
#include "natter-presence-dot.h"
#include "natter-format-accounts.h"

struct _NatterContactsPage
{
  AdwBin parent_instance;

  NatterAccountService *service;
  NatterClient *client;         /* for the contacts' online dots (#16) */
  GCancellable *cancellable;
  GPtrArray *contacts;          /* NatterAccountUser in state contact */
  guint n_requests;

  AdwEntryRow *add_row;
  GtkWidget *requests_group;
  GtkListBox *requests_list;
  GtkListBox *contacts_list;
  GtkLabel *status_label;
};

G_DEFINE_FINAL_TYPE (NatterContactsPage, natter_contacts_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_N_REQUESTS,
  N_PROPS
};

enum {
  SIGNAL_OPEN_CHAT,
  SIGNAL_START_CALL,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

NatterAccountService *
natter_account_service_for (NatterAccount *account)
{
  NatterAccountService *service;

  g_return_val_if_fail (NATTER_IS_ACCOUNT (account), NULL);

  service = natter_account_service_new (natter_account_get_server_url (account),
                                        natter_account_get_app_key (account));
  natter_account_service_set_token (service, natter_account_get_token (account));
  return service;
}

static void
show_status (NatterContactsPage *self,
             const char         *text)
{
  gtk_label_set_label (self->status_label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), text != NULL);
}

/* The rows only: the placeholder ("No contacts yet") is a child too, and
 * removing it would unset it. */
static void
clear_list (GtkListBox *list)
{
  GtkListBoxRow *row;

  while ((row = gtk_list_box_get_row_at_index (list, 0)) != NULL)
    gtk_list_box_remove (list, GTK_WIDGET (row));
}

/* ------------------------------------------------------------ changes */

static void
changed_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterContactsPage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error))
    {
      g_autofree char *message = natter_format_account_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      show_status (self, message);
    }
  else
    show_status (self, NULL);
  natter_contacts_page_reload (self);
}

static void
act_on (NatterContactsPage  *self,
        NatterContactAction  action,
        const char          *user_id)
{
  natter_account_service_contact_async (self->service, action, user_id, NULL, self->cancellable,
                                        changed_cb, g_object_ref (self));
}

static void
accept_clicked_cb (GtkButton          *button,
                   NatterContactsPage *self)
{
  act_on (self, NATTER_CONTACT_ACTION_ACCEPT, g_object_get_data (G_OBJECT (button), "user-id"));
}

static void
ignore_clicked_cb (GtkButton          *button,
                   NatterContactsPage *self)
{
  act_on (self, NATTER_CONTACT_ACTION_IGNORE, g_object_get_data (G_OBJECT (button), "user-id"));
}

static void
add_applied_cb (NatterContactsPage *self)
{
  g_autofree char *user_id = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->add_row))));

  if (*user_id == '\0')
    return;
  gtk_editable_set_text (GTK_EDITABLE (self->add_row), "");
  act_on (self, NATTER_CONTACT_ACTION_REQUEST, user_id);
  /* Translators: a contact request went to %s */
  {
    g_autofree char *sent = g_strdup_printf (_("Request sent to %s"), user_id);
    show_status (self, sent);
  }
}

static void
contact_activated_cb (GtkListBox         *list,
                      GtkListBoxRow      *row,
                      NatterContactsPage *self)
{
  const char *user_id = g_object_get_data (G_OBJECT (row), "user-id");

  if (user_id != NULL)
    g_signal_emit (self, signals[SIGNAL_OPEN_CHAT], 0, user_id);
}

/* ------------------------------------------------------------- the lists */

static const char *
display_name (NatterAccountUser *user)
{
  if (*user->remark != '\0')
    return user->remark;
  return *user->name != '\0' ? user->name : user->user_id;
}

static GtkWidget *
user_row_new (NatterContactsPage *self,
              NatterAccountUser  *user)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *avatar = adw_avatar_new (32, display_name (user), TRUE);

  /* Contacts' online dots; the tracker asks for them all in batches. */
  if (user->state == NATTER_CONTACT_STATE_CONTACT && self->client != NULL)
    avatar = natter_presence_dot_wrap (avatar, self->client, user->user_id);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), display_name (user));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), user->user_id);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), avatar);
  g_object_set_data_full (G_OBJECT (row), "user-id", g_strdup (user->user_id), g_free);
  return row;
}

static GtkWidget *
request_button_new (NatterContactsPage *self,
                    const char         *label,
                    const char         *user_id,
                    GCallback           callback)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_object_set_data_full (G_OBJECT (button), "user-id", g_strdup (user_id), g_free);
  g_signal_connect_object (button, "clicked", callback, self, 0);
  return button;
}

static void
call_clicked_cb (GtkButton          *button,
                 NatterContactsPage *self)
{
  g_signal_emit (self, signals[SIGNAL_START_CALL], 0, g_object_get_data (G_OBJECT (button), "user-id"),
                 g_object_get_data (G_OBJECT (button), "name"),
                 GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "video")));
}

/* Voice and video call buttons of a contact's row. */
static void
add_call_buttons (NatterContactsPage *self,
                  GtkWidget          *row,
                  NatterAccountUser  *user)
{
  static const struct { const char *icon, *tooltip; gboolean video; } calls[] = {
    { "call-start-symbolic", N_("Voice Call"), FALSE },
    { "camera-web-symbolic", N_("Video Call"), TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      GtkWidget *button = gtk_button_new_from_icon_name (calls[i].icon);

      gtk_widget_set_tooltip_text (button, _(calls[i].tooltip));
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, _(calls[i].tooltip), -1);
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (button, "flat");
      g_object_set_data_full (G_OBJECT (button), "user-id", g_strdup (user->user_id), g_free);
      g_object_set_data_full (G_OBJECT (button), "name", g_strdup (display_name (user)), g_free);
      g_object_set_data (G_OBJECT (button), "video", GINT_TO_POINTER (calls[i].video));
      g_signal_connect_object (button, "clicked", G_CALLBACK (call_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
    }
}

static void
contacts_loaded_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterContactsPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) users = NULL;
  guint n_requests = 0;

  users = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (users == NULL)
    {
      g_autofree char *message = natter_format_account_error (error);

      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_status (self, message);
      return;
    }

  clear_list (self->requests_list);
  clear_list (self->contacts_list);
  g_ptr_array_set_size (self->contacts, 0);
  for (guint i = 0; i < users->len; i++)
    {
      NatterAccountUser *user = g_ptr_array_index (users, i);
      GtkWidget *row = user_row_new (self, user);

      switch (user->state)
        {
        case NATTER_CONTACT_STATE_INCOMING:
          if (*user->message != '\0')
            adw_action_row_set_subtitle (ADW_ACTION_ROW (row), user->message);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                                     request_button_new (self, _("_Ignore"), user->user_id,
                                                         G_CALLBACK (ignore_clicked_cb)));
          {
            GtkWidget *accept = request_button_new (self, _("_Accept"), user->user_id,
                                                    G_CALLBACK (accept_clicked_cb));

            gtk_widget_add_css_class (accept, "suggested-action");
            adw_action_row_add_suffix (ADW_ACTION_ROW (row), accept);
          }
          gtk_list_box_append (self->requests_list, row);
          n_requests++;
          break;
        case NATTER_CONTACT_STATE_OUTGOING:
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_label_new (_("Request sent")));
          gtk_list_box_append (self->contacts_list, row);
          break;
        case NATTER_CONTACT_STATE_CONTACT:
          gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
          add_call_buttons (self, row, user);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("go-next-symbolic"));
          gtk_list_box_append (self->contacts_list, row);
          g_ptr_array_add (self->contacts, natter_account_user_copy (user));
          break;
        case NATTER_CONTACT_STATE_IGNORED:
        default:
          g_object_ref_sink (row);
          g_object_unref (row);
          break;
        }
    }

  gtk_widget_set_visible (self->requests_group, n_requests > 0);
  if (self->n_requests != n_requests)
    {
      self->n_requests = n_requests;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_REQUESTS]);
    }
}

void
natter_contacts_page_reload (NatterContactsPage *self)
{
  g_return_if_fail (NATTER_IS_CONTACTS_PAGE (self));
  natter_account_service_list_contacts_async (self->service, self->cancellable, contacts_loaded_cb,
                                              g_object_ref (self));
}

guint
natter_contacts_page_get_n_requests (NatterContactsPage *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACTS_PAGE (self), 0);
  return self->n_requests;
}

GPtrArray *
natter_contacts_page_get_contacts (NatterContactsPage *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACTS_PAGE (self), NULL);
  return self->contacts;
}

/* --------------------------------------------------------------- GObject */

static GtkWidget *
group_new (GtkWidget   *box,
           const char  *title,
           GtkListBox **list)
{
  GtkWidget *group = adw_preferences_group_new ();

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), title);
  *list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (*list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (*list), "boxed-list");
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (*list));
  gtk_box_append (GTK_BOX (box), group);
  return group;
}

static void
natter_contacts_page_init (NatterContactsPage *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 24);
  GtkWidget *add_group = adw_preferences_group_new ();
  GtkWidget *add_button;

  self->cancellable = g_cancellable_new ();
  self->contacts = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_account_user_free);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  g_object_set (box, "margin-top", 18, "margin-bottom", 18, "margin-start", 12, "margin-end", 12, NULL);

  self->add_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->add_row), _("Add Contact by User ID"));
  add_button = gtk_button_new_with_mnemonic (_("_Add"));
  gtk_widget_set_valign (add_button, GTK_ALIGN_CENTER);
  adw_entry_row_add_suffix (self->add_row, add_button);
  g_signal_connect_object (add_button, "clicked", G_CALLBACK (add_applied_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->add_row, "entry-activated", G_CALLBACK (add_applied_cb), self, G_CONNECT_SWAPPED);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (add_group), GTK_WIDGET (self->add_row));
  gtk_box_append (GTK_BOX (box), add_group);

  self->status_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->status_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "dim-label");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), FALSE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status_label));

  self->requests_group = group_new (box, _("Contact Requests"), &self->requests_list);
  gtk_widget_set_visible (self->requests_group, FALSE);
  group_new (box, _("Contacts"), &self->contacts_list);
  {
    GtkWidget *empty = gtk_label_new (_("No contacts yet"));

    g_object_set (empty, "margin-top", 12, "margin-bottom", 12, NULL);
    gtk_widget_add_css_class (empty, "dim-label");
    gtk_list_box_set_placeholder (self->contacts_list, empty);
  }
  g_signal_connect_object (self->contacts_list, "row-activated", G_CALLBACK (contact_activated_cb), self, 0);

  adw_clamp_set_child (ADW_CLAMP (clamp), box);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), clamp);
  adw_bin_set_child (ADW_BIN (self), scrolled);
}

static void
natter_contacts_page_dispose (GObject *object)
{
  NatterContactsPage *self = NATTER_CONTACTS_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->service);
  g_clear_object (&self->client);
  g_clear_pointer (&self->contacts, g_ptr_array_unref);

  G_OBJECT_CLASS (natter_contacts_page_parent_class)->dispose (object);
}

static void
natter_contacts_page_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  NatterContactsPage *self = NATTER_CONTACTS_PAGE (object);

  switch (prop_id)
    {
    case PROP_N_REQUESTS:
      g_value_set_uint (value, self->n_requests);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contacts_page_class_init (NatterContactsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_contacts_page_dispose;
  object_class->get_property = natter_contacts_page_get_property;

  properties[PROP_N_REQUESTS] =
    g_param_spec_uint ("n-requests", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_OPEN_CHAT] =
    g_signal_new ("open-chat", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  /* (user id, display name, video) */
  signals[SIGNAL_START_CALL] =
    g_signal_new ("start-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

NatterContactsPage *
natter_contacts_page_new (NatterAccountService *service)
{
  NatterContactsPage *self;

  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (service), NULL);

  self = g_object_new (NATTER_TYPE_CONTACTS_PAGE, NULL);
  self->service = g_object_ref (service);
  natter_contacts_page_reload (self);
  return self;
}

void
natter_contacts_page_set_client (NatterContactsPage *self,
                                 NatterClient       *client)
{
  g_return_if_fail (NATTER_IS_CONTACTS_PAGE (self));
  g_set_object (&self->client, client);
}
