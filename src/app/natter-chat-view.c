/* natter-chat-view.c — one conversation: header, history, composer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-chat-view.h"
#include "natter-contacts-page.h"
#include "natter-window.h"
#include "natter-format.h"
#include "natter-pane-layout.h"
#include "natter-forward-dialog.h"
#include "natter-image-viewer.h"
#include "natter-message-row.h"
#include "natter-presence-dot.h"
#include "natter-presence-tracker.h"
#include "natter-tail-model.h"

/* Within this many pixels of the end counts as "at the bottom". */
#define BOTTOM_SLACK 48
#define TYPING_SECONDS 6
#define DRAFT_DELAY_MS 800
/* How far back the first unread message is looked for. */
#define MAX_UNREAD_SEARCH 200
/* Pages show_message() may load to find an old message. */
#define MAX_PAGES_TO_FIND 500
/* Scrolling up, older pages are asked for while less than this many
 * screens are above the view: a fling crosses a screen in a few frames, a
 * page from the store's worker takes longer (#17). */
#define PREFETCH_SCREENS 4

struct _NatterChatView
{
  AdwBin parent_instance;

  GPtrArray *row_pool;   /* message rows kept for the next list items, see row_setup_cb() */
  guint warm_id;
  GtkWidget *rehearsal_row;  /* a pooled row being measured at idle, see rehearse_step() */
  guint rehearsal_step;
  guint rehearsal_waits;
  guint n_rehearsed;
  GHashTable *prefetched;  /* "type:target" → NatterMessageList read ahead, see natter_chat_view_prefetch() */

  NatterClient *client;
  NatterConversationType type;
  char *target_id;
  NatterConversation *conversation;
  NatterMessageList *messages;
  NatterTailModel *shown;  /* what the list view shows of @messages, see reveal_tick_cb() */
  guint reveal_id;
  gint64 reveal_frame;     /* the frame that first showed the tail, or -1 */
  NatterPortraits *portraits;
  GCancellable *cancellable;
  GtkWindow *window;

  gboolean sticky;         /* follow the newest message */
  gboolean laid_out;       /* the list view allocated since its model changed */
  gboolean at_bottom;
  double value_at_layout;  /* the scroll position the list view's last layout left */
  guint typing_id;
  char *typing_text;       /* "bob is typing…" in groups, NULL in private chats */
  guint draft_id;
  guint scroll_id;
  gint64 find_id;          /* show_message() target still loading */
  gboolean find_flash;     /* flash it once there (a search result) */
  guint find_retries;
  guint unread_at_open;     /* unread count when the chat was opened */
  gint64 first_unread_id;   /* the message with the “Unread Messages” mark */
  guint find_pages;
  gboolean cs_connecting;   /* customer service: handshake sent, no answer yet */
  guint cs_attempt;         /* handshakes sent without an answer */
  guint cs_retry_id;

  AdwHeaderBar *header_bar;
  GtkWidget *back_button;
  AdwWindowTitle *window_title;
  GtkWidget *header_avatar_overlay;
  AdwAvatar *header_avatar;
  NatterPresenceDot *header_presence_dot;
  GtkBox *header_box;
  GtkScrolledWindow *scrolled;
  GtkListView *list_view;
  GtkWidget *empty_label;
  GtkSpinner *loading_spinner;
  GtkRevealer *jump_revealer;
  NatterComposer *composer;

  /* a group's members (accounts: NatterAccountUser), for @mentions */
  GPtrArray *members;
  gboolean may_mention_all;
  /* message actions (#16) */
  NatterMessage *reply_to;      /* the composer's next send replies to it */
  NatterMessage *editing;       /* the composer's next send is its new text */
  GHashTable *selected;         /* message-id → the NatterMessage, selection mode */
  GtkWidget *selection_bar;
  GtkLabel *selection_label;
  GtkWidget *selection_forward;
  NatterMessage *find_referred; /* a reply whose original is being looked for */
  guint find_referred_pages;
};

G_DEFINE_FINAL_TYPE (NatterChatView, natter_chat_view, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_CONVERSATION,
  PROP_PORTRAITS,
  N_PROPS
};

enum {
  SHOW_TOAST,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void load_older (NatterChatView *self);
static void scroll_to_message (NatterChatView *self,
                               gint64          message_id,
                               gboolean        flash);
static void try_show_message (NatterChatView *self);
static void try_show_referred (NatterChatView *self);

/* Through whoever shows toasts (the window, one at a time). */
static void
toast (NatterChatView *self,
       const char     *text)
{
  if (g_signal_has_handler_pending (self, signals[SHOW_TOAST], 0, FALSE))
    g_signal_emit (self, signals[SHOW_TOAST], 0, text);
  else
    g_message ("%s", text);
}

static void
toast_error (NatterChatView *self,
             const char     *what,
             const GError   *error)
{
  g_autofree char *reason = natter_format_error (error);
  /* Translators: "<what failed>: <why>" */
  g_autofree char *text = g_strdup_printf (_("%s: %s"), what, reason);

  toast (self, text);
}

static NatterMessage *
find_message (NatterChatView *self,
              gint64          message_id)
{
  guint pos;

  if (self->messages == NULL)
    return NULL;
  pos = natter_message_list_find (self->messages, message_id);
  if (pos == G_MAXUINT)
    return NULL;
  return g_list_model_get_item (G_LIST_MODEL (self->messages), pos);
}

/* ------------------------------------------------------------- the title */

static void update_title (NatterChatView *self);

static void
cs_handshake_sent_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GError) error = NULL;

  sent = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);
  if (sent == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Customer-service handshake not sent: %s", error->message);
}

/* RC:CsHs is status only: lost when the service is offline or we are.
 * Unanswered, it goes again after 5 s, doubled each time up to a minute. */
#define CS_ANSWER_WAIT_S     5
#define CS_ANSWER_WAIT_MAX_S 60

static void send_cs_handshake (NatterChatView *self);

static gboolean
cs_retry_cb (gpointer user_data)
{
  NatterChatView *self = user_data;

  self->cs_retry_id = 0;
  self->cs_attempt++;
  send_cs_handshake (self);
  update_title (self);
  return G_SOURCE_REMOVE;
}

/* Opening a customer-service chat (type 5) greets the service with RC:CsHs
 * (status only); the header says “Connecting…” until the service answers,
 * and that it tries again once the first went unanswered. */
static void
send_cs_handshake (NatterChatView *self)
{
  guint wait_s = CS_ANSWER_WAIT_S << MIN (self->cs_attempt, 4);

  g_autoptr(JsonObject) content = json_object_new ();
  JsonObject *user_info = json_object_new ();
  const char *me = natter_client_get_user_id (self->client);

  json_object_set_object_member (content, "requestInfo", json_object_new ());
  json_object_set_string_member (user_info, "userId", me != NULL ? me : "");
  json_object_set_object_member (content, "userInfo", user_info);
  self->cs_connecting = TRUE;
  natter_client_send_message_async (self->client, NATTER_CONVERSATION_CUSTOMER_SERVICE, self->target_id,
                                    NATTER_OBJECT_CS_HANDSHAKE, content, self->cancellable,
                                    cs_handshake_sent_cb, NULL);
  g_clear_handle_id (&self->cs_retry_id, g_source_remove);
  self->cs_retry_id = g_timeout_add_seconds (MIN (wait_s, CS_ANSWER_WAIT_MAX_S), cs_retry_cb, self);
}

/* A private chat's header shows the peer's avatar with its online dot,
 * small, as Telegram and Dino do; groups and services have none. */
static void
update_header_avatar (NatterChatView *self,
                      const char     *title)
{
  gboolean private = self->type == NATTER_CONVERSATION_PRIVATE && self->target_id != NULL;

  gtk_widget_set_visible (self->header_avatar_overlay, private);
  natter_presence_dot_set_user (self->header_presence_dot, private ? self->client : NULL,
                                private ? self->target_id : NULL);
  if (!private)
    return;
  adw_avatar_set_text (self->header_avatar, title);
  if (self->portraits != NULL)
    natter_portraits_apply (self->portraits, GTK_WIDGET (self->header_avatar),
                            self->conversation != NULL ? natter_conversation_get_portrait_uri (self->conversation)
                                                       : NULL);
}

static void
update_title (NatterChatView *self)
{
  const char *title = self->target_id;

  if (self->conversation != NULL)
    title = natter_conversation_get_title (self->conversation);
  adw_window_title_set_title (self->window_title, title != NULL ? title : "");
  update_header_avatar (self, title);
  if (self->typing_id != 0)
    adw_window_title_set_subtitle (self->window_title,
                                   self->typing_text != NULL ? self->typing_text : _("typing…"));
  else if (self->cs_connecting && self->cs_attempt > 0)
    /* Translators: a customer-service chat's header once a handshake went unanswered */
    adw_window_title_set_subtitle (self->window_title, _("No answer yet, trying again…"));
  else if (self->cs_connecting)
    /* Translators: a customer-service chat's header until the service answers */
    adw_window_title_set_subtitle (self->window_title, _("Connecting…"));
  else if (self->type != NATTER_CONVERSATION_PRIVATE && self->target_id != NULL)
    adw_window_title_set_subtitle (self->window_title, natter_format_conversation_type (self->type));
  else if (self->client != NULL && self->target_id != NULL)
    {
      /* "online", "last seen 5 minutes ago" (#16) */
      g_autofree char *presence = natter_presence_tracker_describe (natter_presence_tracker_for (self->client),
                                                                    self->target_id);

      adw_window_title_set_subtitle (self->window_title, presence);
    }
  else
    adw_window_title_set_subtitle (self->window_title, NULL);
}

static void
peer_presence_changed_cb (NatterChatView *self,
                          const char     *user_id)
{
  if (g_strcmp0 (user_id, self->target_id) == 0)
    update_title (self);
}

static void
presence_tick_cb (NatterChatView *self)
{
  update_title (self);
}

static gboolean
typing_over_cb (gpointer user_data)
{
  NatterChatView *self = user_data;

  self->typing_id = 0;
  update_title (self);
  return G_SOURCE_REMOVE;
}

static void
message_received_cb (NatterChatView *self,
                     NatterMessage  *message)
{
  g_autofree char *typing = NULL;

  if (self->target_id == NULL ||
      natter_message_get_conversation_type (message) != self->type ||
      g_strcmp0 (natter_message_get_target_id (message), self->target_id) != 0 ||
      natter_message_get_direction (message) != NATTER_MESSAGE_DIRECTION_RECEIVE)
    return;

  if (self->cs_connecting)
    {
      /* anything from the service is its answer to the handshake */
      self->cs_connecting = FALSE;
      g_clear_handle_id (&self->cs_retry_id, g_source_remove);
      update_title (self);
    }

  if (natter_message_get_kind (message) == NATTER_MESSAGE_KIND_TYPING)
    {
      /* in a group, who */
      if (self->type != NATTER_CONVERSATION_PRIVATE)
        {
          const char *who = natter_message_get_sender_name (message);
          if (who == NULL || *who == '\0')
            who = natter_message_get_sender_user_id (message);
          /* Translators: in a group chat's header */
          typing = g_strdup_printf (_("%s is typing…"), who);
        }
      g_free (self->typing_text);
      self->typing_text = g_steal_pointer (&typing);
      g_clear_handle_id (&self->typing_id, g_source_remove);
      self->typing_id = g_timeout_add_seconds (TYPING_SECONDS, typing_over_cb, self);
      update_title (self);
    }
  else if (self->typing_id != 0 && natter_message_is_persisted (message))
    {
      /* the message they were typing arrived */
      g_clear_handle_id (&self->typing_id, g_source_remove);
      update_title (self);
    }
}

/* --------------------------------------------------------------- unread */

static void
clear_unread_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_clear_unread_finish (NATTER_CLIENT (object), result, &error))
    g_debug ("clear unread: %s", error->message);
}

static gboolean
wants_receipt (NatterMessage *message)
{
  return natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_RECEIVE &&
         natter_message_get_receipt_requested (message) &&
         !natter_message_get_receipt_answered (message);
}

/* Group read receipts: what asks for one is answered once the chat shows
 * it (the window active, the chat mapped), @extra too (just updated). */
static void
answer_receipts (NatterChatView *self,
                 NatterMessage  *extra)
{
  g_autoptr(GPtrArray) wanted = g_ptr_array_new_with_free_func (g_object_unref);
  guint n;

  if (self->client == NULL || self->messages == NULL ||
      (self->type != NATTER_CONVERSATION_GROUP && self->type != NATTER_CONVERSATION_DISCUSSION) ||
      self->window == NULL || !gtk_window_is_active (self->window) ||
      !gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;

  n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (self->messages), i);

      if (wants_receipt (message) &&
          (extra == NULL || g_strcmp0 (natter_message_get_message_uid (message),
                                       natter_message_get_message_uid (extra)) != 0))
        g_ptr_array_add (wanted, g_steal_pointer (&message));
    }
  if (extra != NULL && wants_receipt (extra))
    g_ptr_array_add (wanted, g_object_ref (extra));
  if (wanted->len > 0)
    natter_client_send_read_receipts_async (self->client, wanted, NULL, NULL, NULL);
}

static void
store_message_updated_cb (NatterChatView *self,
                          NatterMessage  *message)
{
  if (self->target_id == NULL || natter_message_get_conversation_type (message) != self->type ||
      g_strcmp0 (natter_message_get_target_id (message), self->target_id) != 0)
    return;
  answer_receipts (self, message);
}

static void
maybe_mark_read (NatterChatView *self)
{
  if (self->conversation == NULL || self->client == NULL || !self->at_bottom)
    return;
  if (self->window == NULL || !gtk_window_is_active (self->window) ||
      !gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;
  answer_receipts (self, NULL);
  if (natter_conversation_get_unread_count (self->conversation) == 0)
    return;
  natter_client_clear_unread_async (self->client, self->type, self->target_id, NULL,
                                    clear_unread_cb, NULL);
}

/* Writing in a chat reads it, as in every messenger: scrolled up, or with
 * the window in the background, what came before is answered. */
static void
read_on_send (NatterChatView *self)
{
  if (self->conversation != NULL && natter_conversation_get_unread_count (self->conversation) == 0)
    return;
  natter_client_clear_unread_async (self->client, self->type, self->target_id, NULL,
                                    clear_unread_cb, NULL);
}

/* -------------------------------------------------------------- scrolling */

static GtkAdjustment *
vadjustment (NatterChatView *self)
{
  return gtk_scrolled_window_get_vadjustment (self->scrolled);
}

/* ------------------------------------------------------------ the open */

/* A chat opens with only its newest messages that fit the list's height
 * in the list view's model, then the rest of the page right after that
 * first frame (#17): GTK 4.8's list view made a row for each of the
 * page's 20 messages before it, ~12 of them in view. No row is shorter
 * than a one-line bubble (a day separator, a sender's name or an avatar
 * only add to it); rows that show nothing (protocol messages) do not
 * count. */
#define MIN_ROW_HEIGHT 40
#define DEFAULT_LIST_HEIGHT 1000

static void
reveal_all (NatterChatView *self)
{
  if (self->reveal_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->reveal_id);
  self->reveal_id = 0;
  if (self->shown != NULL)
    natter_tail_model_show_all (self->shown);
}

/* The list's height; before the chat was first shown, the window's. */
static int
list_height (NatterChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self->scrolled));

  if (height <= 0 && root != NULL)
    {
      int header = 0, composer = 0, width;

      /* less what is above and below the list */
      height = gtk_widget_get_height (GTK_WIDGET (root));
      if (height <= 0)
        gtk_window_get_default_size (GTK_WINDOW (root), &width, &height);
      gtk_widget_measure (GTK_WIDGET (self->header_bar), GTK_ORIENTATION_VERTICAL, -1, &header, NULL, NULL, NULL);
      gtk_widget_measure (GTK_WIDGET (self->composer), GTK_ORIENTATION_VERTICAL, -1, &composer, NULL, NULL, NULL);
      height -= header + composer;
    }
  return height > 0 ? height : DEFAULT_LIST_HEIGHT;
}

/* how many of the newest messages fill @height */
static guint
tail_limit (NatterChatView *self,
            int             height)
{
  GListModel *model = G_LIST_MODEL (self->messages);
  guint n = g_list_model_get_n_items (model);
  guint fit = (guint) (MAX (height, 0) + MIN_ROW_HEIGHT - 1) / MIN_ROW_HEIGHT + 1;
  guint shows = 0;
  guint i;

  if (n == 0)
    return fit;
  for (i = n; i > 0 && shows < fit; i--)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (model, i - 1);

      if (natter_message_row_shows (message))
        shows++;
    }
  return n - i;
}

/* At each frame: once a frame has drawn the tail, the rest goes in. */
static gboolean
reveal_tick_cb (GtkWidget     *widget,
                GdkFrameClock *clock,
                gpointer       user_data)
{
  NatterChatView *self = user_data;
  gint64 frame = gdk_frame_clock_get_frame_counter (clock);

  if (self->shown == NULL || g_list_model_get_n_items (G_LIST_MODEL (self->shown)) == 0)
    return G_SOURCE_CONTINUE;
  if (self->reveal_frame < 0)
    {
      /* this frame lays out and draws the tail */
      self->reveal_frame = frame;
      return G_SOURCE_CONTINUE;
    }
  if (frame == self->reveal_frame)
    return G_SOURCE_CONTINUE;
  self->reveal_id = 0;
  natter_tail_model_show_all (self->shown);
  return G_SOURCE_REMOVE;
}

/* while the tail waits for its frame (the page may come after the open) */
static void
queue_reveal (NatterChatView *self)
{
  if (self->shown == NULL || !natter_tail_model_get_limited (self->shown) || self->reveal_id != 0 ||
      g_list_model_get_n_items (G_LIST_MODEL (self->shown)) == 0)
    return;
  self->reveal_frame = -1;
  self->reveal_id = gtk_widget_add_tick_callback (GTK_WIDGET (self->list_view), reveal_tick_cb, self, NULL);
}

/* GtkListView warns when asked to scroll while it is not on screen or has
 * not laid out its model yet: only then. */
static gboolean
scroll_list_to (NatterChatView *self,
                guint           position)
{
  GListModel *model = G_LIST_MODEL (gtk_list_view_get_model (self->list_view));

  if (model == NULL || self->shown == NULL || !gtk_widget_get_mapped (GTK_WIDGET (self->list_view)) ||
      gtk_widget_get_height (GTK_WIDGET (self->list_view)) <= 0)
    return FALSE;
  /* @position is the message list's: above the newest shown, all of them */
  if (position < natter_tail_model_get_offset (self->shown))
    reveal_all (self);
  position -= natter_tail_model_get_offset (self->shown);
  if (position >= g_list_model_get_n_items (model))
    return FALSE;
  gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", position);
  return TRUE;
}

/* Through the list view; the adjustment too, but only once the list view
 * has laid out its model since it last changed (it warns otherwise). */
static void
stick_to_bottom (NatterChatView *self)
{
  guint n = self->messages != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->messages)) : 0;
  GtkAdjustment *adj = vadjustment (self);

  if (n > 0 && scroll_list_to (self, n - 1) && self->laid_out)
    gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
}

static gboolean
scroll_idle_cb (gpointer user_data)
{
  NatterChatView *self = user_data;

  self->scroll_id = 0;
  if (self->sticky)
    stick_to_bottom (self);
  return G_SOURCE_REMOVE;
}

static void
queue_stick (NatterChatView *self)
{
  if (self->scroll_id == 0)
    self->scroll_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE + 20, scroll_idle_cb, self, NULL);
}

void
natter_chat_view_scroll_to_bottom (NatterChatView *self)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));

  self->sticky = TRUE;
  stick_to_bottom (self);
  queue_stick (self);
}

gboolean
natter_chat_view_get_at_bottom (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), FALSE);
  return self->at_bottom;
}

/* The list view laid out (its size or the rows' changed): a new position
 * that comes with it is in place already when this runs. */
static void
adjustment_changed_cb (NatterChatView *self,
                       GtkAdjustment  *adj)
{
  self->value_at_layout = gtk_adjustment_get_value (adj);
}

static void
value_changed_cb (NatterChatView *self,
                  GtkAdjustment  *adj)
{
  double value = gtk_adjustment_get_value (adj);
  double end = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);
  gboolean scrolled = !G_APPROX_VALUE (value, self->value_at_layout, 0.5);

  self->at_bottom = value >= end - BOTTOM_SLACK;
  /* the user scrolled up: stop following; back at the end: follow again.
   * While a scroll to the end waits for the layout, a move by the layout
   * itself does not count (a scroll does: the user's wins over the wait) */
  if (scrolled || self->scroll_id == 0)
    self->sticky = self->at_bottom;
  gtk_revealer_set_reveal_child (self->jump_revealer, !self->at_bottom);

  /* only a scroll prefetches: a move by the layout (a page went in above)
   * does not ask for the next one itself */
  if (value < gtk_adjustment_get_page_size (adj) ||
      (scrolled && value < PREFETCH_SCREENS * gtk_adjustment_get_page_size (adj)))
    load_older (self);
  if (self->at_bottom)
    maybe_mark_read (self);
}

static void
upper_changed_cb (NatterChatView *self)
{
  /* the list view configures the adjustment when it lays out */
  self->laid_out = TRUE;
  if (self->sticky)
    {
      stick_to_bottom (self);
      queue_stick (self);
    }
}

/* ------------------------------------------------------------- history */

static void
update_loading (NatterChatView *self)
{
  gboolean loading = self->messages != NULL && natter_message_list_get_loading (self->messages);
  gboolean empty = self->messages == NULL ||
                   g_list_model_get_n_items (G_LIST_MODEL (self->messages)) == 0;

  gtk_widget_set_visible (GTK_WIDGET (self->loading_spinner), loading);
  gtk_spinner_set_spinning (self->loading_spinner, loading);
  gtk_widget_set_visible (self->empty_label, empty && !loading && self->target_id != NULL);
}

static void
load_older_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(GError) error = NULL;

  natter_message_list_load_older_finish (NATTER_MESSAGE_LIST (object), result, &error);
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("Loading older messages: %s", error->message);
  if (NATTER_MESSAGE_LIST (object) != self->messages)
    return;
  update_loading (self);
  if (self->find_id != 0)
    try_show_message (self);
  if (self->find_referred != NULL)
    try_show_referred (self);
}

static void
load_older (NatterChatView *self)
{
  if (self->messages == NULL || natter_message_list_get_loading (self->messages) ||
      !natter_message_list_get_has_more (self->messages))
    return;
  natter_message_list_load_older_async (self->messages, self->cancellable,
                                        load_older_cb, g_object_ref (self));
  update_loading (self);
}

static void bind_row (NatterChatView *self, NatterMessageRow *row, guint position);
static void unbind_pending (NatterMessageRow *row);
static void update_row_selected (NatterChatView *self, GtkWidget *row);

/* A row's day separator and grouping depend on the message above it: when
 * that changed (an older page came, a message was inserted or removed
 * before it), bind the row below the change again. The change itself is
 * passed to the list view unaltered, so it keeps what is in view in place. */
static void
refresh_row_after (NatterChatView *self,
                   guint           position)
{
  g_autoptr(NatterMessage) message = NULL;

  if (position >= g_list_model_get_n_items (G_LIST_MODEL (self->messages)))
    return;
  message = g_list_model_get_item (G_LIST_MODEL (self->messages), position);
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list_view));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *row = gtk_widget_get_first_child (child);
      if (NATTER_IS_MESSAGE_ROW (row) &&
          natter_message_row_get_message (NATTER_MESSAGE_ROW (row)) == message)
        bind_row (self, NATTER_MESSAGE_ROW (row), position);
    }
}

/* Opened with unread messages: mark the first of them and start there,
 * as far as the loaded pages reach (else at the newest, as usual). */
static void
find_first_unread (NatterChatView *self)
{
  GListModel *model = G_LIST_MODEL (self->messages);
  guint n = g_list_model_get_n_items (model);
  guint counted = 0;

  if (self->unread_at_open == 0 || n == 0)
    return;

  for (guint i = n; i > 0; i--)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (model, i - 1);

      if (natter_message_get_direction (m) != NATTER_MESSAGE_DIRECTION_RECEIVE ||
          (natter_message_get_flags (m) & NATTER_MESSAGE_FLAG_COUNTED) == 0)
        continue;
      if (++counted == self->unread_at_open)
        {
          self->first_unread_id = natter_message_get_message_id (m);
          self->unread_at_open = 0;
          /* the row is bound again with its mark; show it from the top */
          refresh_row_after (self, i - 1);
          scroll_to_message (self, self->first_unread_id, FALSE);
          return;
        }
    }
  if (!natter_message_list_get_has_more (self->messages) || n >= MAX_UNREAD_SEARCH)
    self->unread_at_open = 0;   /* not in reach: the newest it is */
  else if (!natter_message_list_get_loading (self->messages))
    load_older (self);
}

static void
items_changed_cb (NatterChatView *self,
                  guint           position,
                  guint           removed,
                  guint           added)
{
  self->laid_out = FALSE;
  queue_reveal (self);
  refresh_row_after (self, position + added);
  find_first_unread (self);
  update_loading (self);
  if (self->sticky)
    queue_stick (self);
  if (self->find_id != 0)
    try_show_message (self);
}

static NatterMessageRow *
row_for_message (NatterChatView *self,
                 gint64          message_id)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list_view));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *row = gtk_widget_get_first_child (child);
      if (NATTER_IS_MESSAGE_ROW (row))
        {
          NatterMessage *m = natter_message_row_get_message (NATTER_MESSAGE_ROW (row));
          if (m != NULL && natter_message_get_message_id (m) == message_id)
            return NATTER_MESSAGE_ROW (row);
        }
    }
  return NULL;
}

static gboolean
flash_idle_cb (gpointer user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  NatterMessageRow *row = row_for_message (self, GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (self), "flash-id")));

  if (row != NULL)
    natter_message_row_flash (row);
  return G_SOURCE_REMOVE;
}

static gboolean
retry_find_idle_cb (gpointer user_data)
{
  try_show_message (user_data);
  return G_SOURCE_REMOVE;
}

static void
try_show_message (NatterChatView *self)
{
  guint pos;

  if (self->messages == NULL || self->find_id == 0)
    return;
  pos = natter_message_list_find (self->messages, self->find_id);
  if (pos != G_MAXUINT)
    {
      if (!scroll_list_to (self, pos))
        {
          /* not laid out yet: a moment later; not on screen: when it is (map) */
          if (gtk_widget_get_mapped (GTK_WIDGET (self)) && self->find_retries++ < 40)
            g_timeout_add_full (G_PRIORITY_DEFAULT, 50, retry_find_idle_cb, g_object_ref (self), g_object_unref);
          return;
        }
      self->find_retries = 0;
      g_object_set_data (G_OBJECT (self), "flash-id", GSIZE_TO_POINTER ((gsize) self->find_id));
      self->find_id = 0;
      self->sticky = FALSE;
      if (self->find_flash)
        g_timeout_add (100, flash_idle_cb, g_object_ref (self));
      return;
    }
  if (natter_message_list_get_has_more (self->messages) && self->find_pages++ < MAX_PAGES_TO_FIND)
    load_older (self);
  else
    self->find_id = 0;
}

static void
scroll_to_message (NatterChatView *self,
                   gint64          message_id,
                   gboolean        flash)
{
  self->find_id = message_id;
  self->find_flash = flash;
  self->find_pages = 0;
  self->find_retries = 0;
  try_show_message (self);
}

void
natter_chat_view_show_message (NatterChatView *self,
                               gint64          message_id)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));
  scroll_to_message (self, message_id, TRUE);
}

/* ---------------------------------------------------------------- rows */

/* Message rows outlive their list items (#17). GTK 4.8's list view makes
 * a new item for every message it shows and destroys it once the message
 * leaves the view or the chat closes, so opening a chat or scrolling built
 * rows (a template of a dozen widgets) at every step. A row given back on
 * teardown waits here, unbound, for the next setup. */
#define ROW_POOL_MAX 64
/* made at idle once the conversation list is on screen: the first chat's
 * screenful (20 messages) with some room */
#define ROW_POOL_WARM 28

static void
row_setup_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              NatterChatView           *self)
{
  GtkWidget *row;

  if (self->row_pool != NULL && self->row_pool->len > 0)
    row = g_ptr_array_steal_index_fast (self->row_pool, self->row_pool->len - 1);
  else
    row = g_object_ref_sink (natter_message_row_new ());
  /* GTK 4.8 has let go of the child when it emits ::teardown: the item
   * keeps a reference of ours to find it then */
  g_object_set_data_full (G_OBJECT (item), "natter-row", row, g_object_unref);
  gtk_list_item_set_child (item, row);
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
}

static void
row_teardown_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 NatterChatView           *self)
{
  g_autoptr(GtkWidget) row = g_object_steal_data (G_OBJECT (item), "natter-row");

  if (row == NULL)
    return;
  unbind_pending (NATTER_MESSAGE_ROW (row));
  if (self->row_pool == NULL || self->row_pool->len >= ROW_POOL_MAX)
    return;
  if (gtk_list_item_get_child (item) == row)
    gtk_list_item_set_child (item, NULL);
  /* unbound already (::unbind comes first) */
  if (gtk_widget_get_parent (row) == NULL)
    g_ptr_array_add (self->row_pool, g_steal_pointer (&row));
}

/* The newest text message of @direction in a list read ahead, or NULL. */
static NatterMessage *
rehearsal_message (NatterChatView         *self,
                   NatterMessageDirection  direction)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->prefetched);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GListModel *list = G_LIST_MODEL (value);
      guint n = g_list_model_get_n_items (list);

      for (guint i = n; i > 0 && n - i < NATTER_MESSAGE_LIST_PAGE_SIZE; i--)
        {
          g_autoptr(NatterMessage) message = g_list_model_get_item (list, i - 1);

          if (natter_message_get_direction (message) == direction &&
              natter_message_get_kind (message) == NATTER_MESSAGE_KIND_TEXT)
            return g_steal_pointer (&message);
        }
    }
  return NULL;
}

#define REHEARSAL_WAIT_MS 200
#define REHEARSAL_WAITS 25

/* Glyphs are rasterised (and hinted) by cairo when first drawn, per font
 * and size: each label of the rehearsed row draws its text and the
 * digits and Latin letters into a scratch surface, in its own font. */
static void
draw_labels (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    draw_labels (child);
  if (GTK_IS_LABEL (widget) && gtk_widget_get_visible (widget))
    {
      static const char sample[] = "0123456789:. abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ,!?";
      g_autofree char *text = g_strconcat (gtk_label_get_text (GTK_LABEL (widget)), " ", sample, NULL);
      g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (widget, text);
      cairo_surface_t *surface;
      cairo_t *cr;
      int width, height;

      pango_layout_set_attributes (layout, gtk_label_get_attributes (GTK_LABEL (widget)));
      pango_layout_get_pixel_size (layout, &width, &height);
      surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, CLAMP (width, 1, 2048), CLAMP (height, 1, 256));
      cr = cairo_create (surface);
      pango_cairo_show_layout (cr, layout);
      cairo_destroy (cr);
      cairo_surface_destroy (surface);
    }
}

typedef enum {
  REHEARSAL_DONE,
  REHEARSAL_NEXT,
  REHEARSAL_WAIT,   /* the pages read ahead are not in yet */
} RehearsalResult;

/* A rehearsal of the first chat's open (#17). The first chat opened paid
 * what no later one does: its rows' labels made their Pango contexts and
 * the fonts of a bubble, a day separator, a sender's name and an avatar's
 * initials were loaded, substituted and their glyphs hinted for the first
 * time. So, at idle once the pool is warm, a pooled row bound to a message
 * read ahead (an incoming one, then an outgoing one) is put in the chat
 * view, styled and measured there (child-visible off: never allocated nor
 * shown; its labels drawn into a scratch surface), then unbound and given
 * back: one step per main-loop iteration, a few ms each. */
static RehearsalResult
rehearse_step (NatterChatView *self)
{
  guint pass = self->rehearsal_step / 3;

  /* a chat was opened meanwhile: it paid for it already */
  if (self->rehearsal_row == NULL && (self->target_id != NULL || pass >= 2))
    return REHEARSAL_DONE;
  switch (self->rehearsal_step % 3)
    {
    case 0:
      {
        NatterMessageDirection direction = pass == 0 ? NATTER_MESSAGE_DIRECTION_RECEIVE
                                                     : NATTER_MESSAGE_DIRECTION_SEND;
        g_autoptr(NatterMessage) message = rehearsal_message (self, direction);

        if (message == NULL || self->row_pool->len == 0)
          {
            if (self->rehearsal_waits++ < REHEARSAL_WAITS)
              return REHEARSAL_WAIT;
            /* none of this kind read ahead */
            self->rehearsal_step += 3;
            self->rehearsal_waits = 0;
            return REHEARSAL_NEXT;
          }
        self->rehearsal_row = g_ptr_array_steal_index_fast (self->row_pool, self->row_pool->len - 1);
        natter_message_row_set_message (NATTER_MESSAGE_ROW (self->rehearsal_row), self->client, self->portraits,
                                        message, NULL, TRUE);
        gtk_widget_set_child_visible (self->rehearsal_row, FALSE);
        gtk_widget_set_parent (self->rehearsal_row, GTK_WIDGET (self));
      }
      break;
    case 1:
      {
        int width;

        /* as the list view does: the width, then the height for it */
        gtk_widget_measure (self->rehearsal_row, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &width, NULL, NULL);
        gtk_widget_measure (self->rehearsal_row, GTK_ORIENTATION_VERTICAL, MAX (width, 600), NULL, NULL, NULL, NULL);
        draw_labels (self->rehearsal_row);
      }
      break;
    default:
      gtk_widget_unparent (self->rehearsal_row);
      gtk_widget_set_child_visible (self->rehearsal_row, TRUE);
      natter_message_row_set_message (NATTER_MESSAGE_ROW (self->rehearsal_row), NULL, NULL, NULL, NULL, FALSE);
      g_ptr_array_add (self->row_pool, g_steal_pointer (&self->rehearsal_row));
      self->rehearsal_waits = 0;
      self->n_rehearsed++;
      break;
    }
  self->rehearsal_step++;
  return REHEARSAL_NEXT;
}

static gboolean warm_rows_cb (gpointer user_data);

static gboolean
rehearsal_wait_cb (gpointer user_data)
{
  NatterChatView *self = user_data;

  self->warm_id = g_idle_add_full (G_PRIORITY_LOW, warm_rows_cb, self, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
warm_rows_cb (gpointer user_data)
{
  NatterChatView *self = user_data;

  if (self->row_pool->len < ROW_POOL_WARM && self->rehearsal_row == NULL)
    {
      /* one per main-loop iteration: nothing waits behind it */
      g_ptr_array_add (self->row_pool, g_object_ref_sink (natter_message_row_new ()));
      return G_SOURCE_CONTINUE;
    }
  switch (rehearse_step (self))
    {
    case REHEARSAL_NEXT:
      return G_SOURCE_CONTINUE;
    case REHEARSAL_WAIT:
      self->warm_id = g_timeout_add (REHEARSAL_WAIT_MS, rehearsal_wait_cb, self);
      return G_SOURCE_REMOVE;
    case REHEARSAL_DONE:
    default:
      self->warm_id = 0;
      return G_SOURCE_REMOVE;
    }
}

/* The top conversations' newest pages are read from the store in the idle
 * after start-up, so that opening one of them has its page in the model
 * at the click: the first page waited on the store's worker (its query,
 * its pages of the database faulted in), ~20 ms on a quiet box, more on a
 * loaded one (#17). The lists follow the store's changes as an open chat's
 * does; one that grew past two pages is let go (bounded memory). */
#define PREFETCH_MAX 12

static char *
prefetch_key (NatterConversationType  type,
              const char             *target_id)
{
  return g_strdup_printf ("%d:%s", type, target_id);
}

static void
prefetched_changed_cb (NatterMessageList *messages,
                       guint              position,
                       guint              removed,
                       guint              added,
                       NatterChatView    *self)
{
  g_autofree char *key = NULL;

  if (g_list_model_get_n_items (G_LIST_MODEL (messages)) <= 2 * NATTER_MESSAGE_LIST_PAGE_SIZE)
    return;
  key = prefetch_key (natter_message_list_get_conversation_type (messages),
                      natter_message_list_get_target_id (messages));
  g_signal_handlers_disconnect_by_func (messages, prefetched_changed_cb, self);
  g_hash_table_remove (self->prefetched, key);
}

/* The list read ahead for this chat, activated, or NULL. */
static NatterMessageList *
take_prefetched (NatterChatView         *self,
                 NatterConversationType  type,
                 const char             *target_id)
{
  g_autofree char *key = prefetch_key (type, target_id);
  g_autofree char *stolen_key = NULL;  /* stealing takes the table's key too */
  NatterMessageList *messages = NULL;

  if (!g_hash_table_steal_extended (self->prefetched, key, (gpointer *) &stolen_key, (gpointer *) &messages))
    return NULL;
  g_signal_handlers_disconnect_by_func (messages, prefetched_changed_cb, self);
  natter_message_list_activate (messages);
  return messages;
}

static void
clear_prefetched (NatterChatView *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->prefetched);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_signal_handlers_disconnect_by_func (value, prefetched_changed_cb, self);
  g_hash_table_remove_all (self->prefetched);
}

void
natter_chat_view_prefetch (NatterChatView *self,
                           GListModel     *conversations)
{
  guint n;

  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));
  g_return_if_fail (conversations == NULL || G_IS_LIST_MODEL (conversations));

  if (self->client == NULL || conversations == NULL)
    return;
  n = MIN (g_list_model_get_n_items (conversations), PREFETCH_MAX);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterConversation) conversation = g_list_model_get_item (conversations, i);
      NatterConversationType type = natter_conversation_get_conversation_type (conversation);
      const char *target = natter_conversation_get_target_id (conversation);
      g_autofree char *key = prefetch_key (type, target);
      NatterMessageList *messages;

      /* the open chat has its list already */
      if (g_hash_table_contains (self->prefetched, key) ||
          (self->type == type && g_strcmp0 (self->target_id, target) == 0))
        continue;
      messages = natter_message_list_prefetch (self->client, type, target);
      g_signal_connect (messages, "items-changed", G_CALLBACK (prefetched_changed_cb), self);
      g_hash_table_insert (self->prefetched, g_steal_pointer (&key), messages);
    }
}

guint
natter_chat_view_get_n_prefetched (NatterChatView *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), 0);
  g_hash_table_iter_init (&iter, self->prefetched);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!natter_message_list_get_loading (value))
      n++;
  return n;
}

void
natter_chat_view_warm_rows (NatterChatView *self)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));

  /* nothing was read ahead the last time: rehearse again */
  if (self->n_rehearsed == 0 && self->rehearsal_row == NULL)
    {
      self->rehearsal_step = 0;
      self->rehearsal_waits = 0;
    }
  if (self->warm_id == 0 && self->row_pool != NULL &&
      (self->row_pool->len < ROW_POOL_WARM || self->rehearsal_step == 0))
    self->warm_id = g_idle_add_full (G_PRIORITY_LOW, warm_rows_cb, self, NULL);
}

guint
natter_chat_view_get_n_rehearsed (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), 0);
  return self->n_rehearsed;
}

/* GTK 4.8's signal factory unbinds and binds a row again whenever only
 * its position moved: an older page going in above the rows shown (every
 * ~20 messages of a fling up) rebound all of GTK's ~200 rows in one frame,
 * 20–80 ms of the main thread (#17). So ::unbind only marks the row; the
 * next ::bind keeps it as it is when it is the same message below the same
 * one, and clears it first otherwise, as ::unbind did. */
static GQuark unbound_quark;

static void
unbind_pending (NatterMessageRow *row)
{
  if (g_object_steal_qdata (G_OBJECT (row), unbound_quark) != NULL)
    natter_message_row_set_message (row, NULL, NULL, NULL, NULL, FALSE);
}

static void
bind_row (NatterChatView   *self,
          NatterMessageRow *row,
          guint             position)
{
  g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (self->messages), position);
  g_autoptr(NatterMessage) previous = NULL;

  /* the message shown above: empty rows (protocol messages) do not count */
  for (guint i = position; i > 0 && position - i < 50; i--)
    {
      g_clear_object (&previous);
      previous = g_list_model_get_item (G_LIST_MODEL (self->messages), i - 1);
      if (natter_message_row_shows (previous))
        break;
    }
  if (natter_message_row_is_bound_to (row, message, previous))
    g_object_steal_qdata (G_OBJECT (row), unbound_quark);
  else
    {
      unbind_pending (row);
      natter_message_row_set_message (row, self->client, self->portraits, message, previous,
                                      self->type != NATTER_CONVERSATION_PRIVATE);
    }
  natter_message_row_set_first_unread (row, self->first_unread_id != 0 &&
                                            natter_message_get_message_id (message) == self->first_unread_id);
  update_row_selected (self, GTK_WIDGET (row));
}

static void
row_bind_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             NatterChatView           *self)
{
  /* the list view's position is the shown tail's */
  bind_row (self, NATTER_MESSAGE_ROW (gtk_list_item_get_child (item)),
            gtk_list_item_get_position (item) + natter_tail_model_get_offset (self->shown));
}

static void
row_unbind_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               NatterChatView           *self)
{
  g_object_set_qdata (G_OBJECT (gtk_list_item_get_child (item)), unbound_quark, GINT_TO_POINTER (TRUE));
}

/* -------------------------------------------------------------- sending */

static void
send_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);
  /* a refused message stays in the chat as failed, with a retry button;
   * a transient error is no failure: it goes out from the outbox */
  if (message == NULL && error != NULL &&
      !natter_client_error_is_transient (error))
    toast_error (self, _("Message not sent"), error);
  /* One's own group messages ask for read receipts ("Read by N"). */
  if (message != NULL &&
      (natter_message_get_conversation_type (message) == NATTER_CONVERSATION_GROUP ||
       natter_message_get_conversation_type (message) == NATTER_CONVERSATION_DISCUSSION))
    natter_client_request_read_receipts_async (NATTER_CLIENT (object), message, NULL, NULL, NULL);
}

static JsonObject *composer_mentions (NatterChatView *self);
static gboolean send_in_context (NatterChatView *self,
                                 const char     *text);

/* natterd takes reactions (expansion updates) only on messages sent with
 * an expansion object. */
static void
allow_reactions (JsonObject *content)
{
  if (!json_object_has_member (content, "expansion"))
    json_object_set_object_member (content, "expansion", json_object_new ());
}

static void
send_text_cb (NatterChatView *self,
              const char     *text)
{
  g_autoptr(JsonObject) content = NULL;

  if (self->client == NULL || self->target_id == NULL)
    return;
  if (send_in_context (self, text))
    return;
  content = natter_content_new_text (text);
  {
    JsonObject *mentions = composer_mentions (self);

    if (mentions != NULL)
      json_object_set_object_member (content, "mentionedInfo", mentions);
  }
  allow_reactions (content);
  self->sticky = TRUE;
  read_on_send (self);
  natter_client_send_message_async (self->client, self->type, self->target_id,
                                    NATTER_OBJECT_TEXT, content, NULL,
                                    send_done_cb, g_object_ref (self));
  /* the draft is gone with it */
  g_clear_handle_id (&self->draft_id, g_source_remove);
  natter_store_set_draft_async (natter_client_get_store (self->client), self->type,
                                self->target_id, NULL, NULL, NULL, NULL);
}

static void
send_media_done_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_send_media_finish (NATTER_CLIENT (object), result, &error);
  /* stopped in its bubble: it shows as not sent there, with Send Again */
  if (message == NULL &&
      !natter_client_error_is_transient (error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast_error (self, _("Attachment not sent"), error);
}

static gboolean
is_image (GFile *file)
{
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *type = g_content_type_guess (name, NULL, 0, NULL);
  g_autofree char *mime = g_content_type_get_mime_type (type);

  /* what the receiving side decodes (natter-image.h); others go as files */
  return mime != NULL && (g_str_equal (mime, "image/jpeg") || g_str_equal (mime, "image/png") ||
                          g_str_equal (mime, "image/gif") || g_str_equal (mime, "image/webp"));
}

void
natter_chat_view_send_files (NatterChatView *self,
                             GListModel     *files,
                             gboolean        as_images)
{
  guint n;

  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));

  if (self->client == NULL || self->target_id == NULL)
    return;

  n = g_list_model_get_n_items (files);
  self->sticky = TRUE;
  if (n > 0)
    read_on_send (self);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GFile) file = g_list_model_get_item (files, i);

      if (as_images || is_image (file))
        natter_client_send_image_async (self->client, self->type, self->target_id, file,
                                        NULL, NULL, NULL, send_media_done_cb, g_object_ref (self));
      else
        natter_client_send_file_async (self->client, self->type, self->target_id, file,
                                       NULL, NULL, NULL, send_media_done_cb, g_object_ref (self));
    }
  if (n > 0)
    {
      g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Sending %u attachment…",
                                                            "Sending %u attachments…", n), n);
      toast (self, text);
    }
}

static void
send_voice_cb (NatterChatView *self,
               GFile          *file,
               int             seconds)
{
  if (self->client == NULL || self->target_id == NULL)
    return;
  self->sticky = TRUE;
  read_on_send (self);
  natter_client_send_voice_async (self->client, self->type, self->target_id, file, seconds,
                                  NULL, NULL, NULL, send_media_done_cb, g_object_ref (self));
}

/* --------------------------------------------------------------- drafts */

static void
save_draft (NatterChatView *self)
{
  g_autofree char *text = NULL;
  const char *old;

  g_clear_handle_id (&self->draft_id, g_source_remove);
  if (self->client == NULL || self->target_id == NULL)
    return;
  text = natter_composer_dup_text (self->composer);
  old = self->conversation != NULL ? natter_conversation_get_draft (self->conversation) : "";
  if (g_strcmp0 (old != NULL ? old : "", text) == 0)
    return;
  natter_store_set_draft_async (natter_client_get_store (self->client), self->type,
                                self->target_id, text, NULL, NULL, NULL);
}

static gboolean
draft_timeout_cb (gpointer user_data)
{
  NatterChatView *self = user_data;

  self->draft_id = 0;
  save_draft (self);
  return G_SOURCE_REMOVE;
}

static void
text_changed_cb (NatterChatView *self)
{
  g_autofree char *text = natter_composer_dup_text (self->composer);

  if (self->client == NULL || self->target_id == NULL || self->editing != NULL)
    return;
  if (*text != '\0' && natter_client_get_status (self->client) == NATTER_CONNECTION_CONNECTED)
    natter_client_send_typing (self->client, self->type, self->target_id);
  g_clear_handle_id (&self->draft_id, g_source_remove);
  self->draft_id = g_timeout_add (DRAFT_DELAY_MS, draft_timeout_cb, self);
}

/* -------------------------------------------------------------- actions */

static void
resend_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_resend_message_finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL &&
      !natter_client_error_is_transient (error))
    toast_error (self, _("Message not sent"), error);
}

static void
retry_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));

  if (message != NULL)
    natter_client_resend_message_async (self->client, message, NULL, resend_cb, g_object_ref (self));
}

static void
copy_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));

  if (message != NULL && natter_message_get_text (message) != NULL)
    {
      gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), natter_message_get_text (message));
      toast (self, _("Copied"));
    }
}

static void
recall_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_recall_message_finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL)
    toast_error (self, _("Could not recall the message"), error);
}

static void
recall_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));

  if (message != NULL)
    natter_client_recall_message_async (self->client, message, NULL, recall_cb, g_object_ref (self));
}

static void
open_image_activated (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));
  GtkWidget *viewer;

  if (message == NULL)
    return;
  viewer = natter_image_viewer_new (GTK_WINDOW (gtk_widget_get_root (widget)), self->client, message);
  gtk_window_present (GTK_WINDOW (viewer));
}

static void
launch_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_app_info_launch_default_for_uri_finish (result, &error))
    toast_error (self, _("Could not open the file"), error);
}

static void
file_downloaded_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;

  file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  if (file == NULL)
    {
      toast_error (self, _("Download failed"), error);
      return;
    }
  uri = g_file_get_uri (file);
  g_app_info_launch_default_for_uri_async (uri, NULL, NULL, launch_cb, g_object_ref (self));
}

static void
open_file_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));

  if (message == NULL || natter_message_get_file_url (message) == NULL)
    return;
  toast (self, _("Downloading…"));
  natter_client_download_async (self->client, natter_message_get_file_url (message), NULL, NULL,
                                self->cancellable, file_downloaded_cb, g_object_ref (self));
}

/* ------------------------------------------------------ message actions */

static void
clear_message_actions (NatterChatView *self)
{
  g_clear_object (&self->reply_to);
  g_clear_object (&self->editing);
  g_clear_object (&self->find_referred);
  natter_composer_set_context (self->composer, NULL, NULL, NULL);
  if (self->selected != NULL)
    g_hash_table_remove_all (self->selected);
  if (self->selection_bar != NULL)
    gtk_widget_set_visible (self->selection_bar, FALSE);
}

/* The composer's bar was cancelled (its button, Escape). */
static void
context_cancelled_cb (NatterChatView *self)
{
  gboolean was_editing = self->editing != NULL;

  g_clear_object (&self->reply_to);
  g_clear_object (&self->editing);
  if (was_editing)
    natter_composer_set_text (self->composer,
                              self->conversation != NULL ? natter_conversation_get_draft (self->conversation) : "");
}

static void
reply_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));
  g_autofree char *preview = NULL;
  g_autofree char *title = NULL;
  const char *name;

  if (message == NULL || natter_message_get_message_uid (message) == NULL)
    return;
  if (self->editing != NULL)
    context_cancelled_cb (self);
  g_set_object (&self->reply_to, message);
  name = natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND
           ? _("You") : natter_message_get_sender_name (message);
  if (name == NULL || *name == '\0')
    name = natter_message_get_sender_user_id (message);
  /* Translators: the composer's bar above the text */
  title = g_strdup_printf (_("Replying to %s"), name);
  preview = natter_format_preview (message);
  g_strdelimit (preview, "\n\r", ' ');
  natter_composer_set_context (self->composer, "mail-reply-sender-symbolic", title, preview);
}

static void
edit_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));
  g_autofree char *snippet = NULL;

  if (message == NULL || !natter_message_is_editable_kind (message))
    return;
  save_draft (self);
  g_clear_object (&self->reply_to);
  g_set_object (&self->editing, message);
  snippet = g_strdup (natter_message_get_text (message));
  g_strdelimit (snippet, "\n\r", ' ');
  natter_composer_set_text (self->composer, natter_message_get_text (message));
  natter_composer_set_context (self->composer, "document-edit-symbolic", _("Editing"), snippet);
}

static void
edited_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_edit_message_finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL)
    toast_error (self, _("Could not edit the message"), error);
}

static gboolean
restore_draft_idle_cb (gpointer user_data)
{
  NatterChatView *self = user_data;
  g_autofree char *text = natter_composer_dup_text (self->composer);
  const char *draft = self->conversation != NULL ? natter_conversation_get_draft (self->conversation) : NULL;

  if (*text == '\0' && draft != NULL && self->editing == NULL)
    natter_composer_set_text (self->composer, draft);
  return G_SOURCE_REMOVE;
}

/* What the composer's bar says the text is for: TRUE when sent here. */
static gboolean
send_in_context (NatterChatView *self,
                 const char     *text)
{
  g_autoptr(JsonObject) content = NULL;

  if (self->editing != NULL)
    {
      g_autoptr(NatterMessage) message = g_steal_pointer (&self->editing);

      natter_composer_set_context (self->composer, NULL, NULL, NULL);
      if (g_strcmp0 (text, natter_message_get_text (message)) != 0)
        {
          content = natter_content_new_text (text);
          natter_client_edit_message_async (self->client, message, content, NULL, edited_cb, g_object_ref (self));
        }
      /* the draft from before the edit comes back once the composer
       * emptied itself after this send */
      g_idle_add_full (G_PRIORITY_HIGH_IDLE, restore_draft_idle_cb, g_object_ref (self), g_object_unref);
      return TRUE;
    }

  if (self->reply_to != NULL)
    {
      g_autoptr(NatterMessage) quoted = g_steal_pointer (&self->reply_to);

      natter_composer_set_context (self->composer, NULL, NULL, NULL);
      content = natter_message_new_reply_content (quoted, text);
      allow_reactions (content);
      self->sticky = TRUE;
      read_on_send (self);
      natter_client_send_message_async (self->client, self->type, self->target_id,
                                        NATTER_OBJECT_REFERENCE, content, NULL,
                                        send_done_cb, g_object_ref (self));
      g_clear_handle_id (&self->draft_id, g_source_remove);
      natter_store_set_draft_async (natter_client_get_store (self->client), self->type,
                                    self->target_id, NULL, NULL, NULL, NULL);
      return TRUE;
    }
  return FALSE;
}

static void
reacted_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_react_finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL)
    toast_error (self, _("Could not react"), error);
}

static void
react_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = NULL;
  const char *emoji;
  gint64 id;
  gboolean add;

  g_variant_get (parameter, "(x&sb)", &id, &emoji, &add);
  message = find_message (self, id);
  if (message == NULL || *emoji == '\0')
    return;
  natter_client_react_async (self->client, message, emoji, add, NULL, reacted_cb, g_object_ref (self));
}

static void
forward_finished_cb (NatterChatView *self,
                     guint           sent,
                     guint           failed)
{
  g_autofree char *text = NULL;

  if (failed == 0)
    toast (self, _("Forwarded"));
  else
    {
      text = g_strdup_printf (ngettext ("%u message could not be forwarded",
                                        "%u messages could not be forwarded", failed), failed);
      toast (self, text);
    }
}

static void
open_forward_dialog (NatterChatView *self,
                     GPtrArray      *messages)
{
  GtkWidget *dialog;

  if (messages->len == 0 || self->client == NULL)
    return;
  dialog = natter_forward_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), self->client, messages);
  g_signal_connect_object (dialog, "finished", G_CALLBACK (forward_finished_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
forward_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  NatterMessage *message = find_message (self, g_variant_get_int64 (parameter));

  if (message != NULL)
    g_ptr_array_add (messages, message);
  open_forward_dialog (self, messages);
}

static void
update_row_selected (NatterChatView *self,
                     GtkWidget      *row)
{
  NatterMessage *m = natter_message_row_get_message (NATTER_MESSAGE_ROW (row));
  gint64 id = m != NULL ? natter_message_get_message_id (m) : 0;

  if (self->selected != NULL && g_hash_table_contains (self->selected, &id))
    gtk_widget_add_css_class (row, "selected");
  else
    gtk_widget_remove_css_class (row, "selected");
}

static void
update_selection (NatterChatView *self)
{
  guint n = g_hash_table_size (self->selected);
  g_autofree char *label = NULL;
  g_autofree char *forward = NULL;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list_view));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    if (NATTER_IS_MESSAGE_ROW (gtk_widget_get_first_child (child)))
      update_row_selected (self, gtk_widget_get_first_child (child));

  gtk_widget_set_visible (self->selection_bar, n > 0);
  label = g_strdup_printf (ngettext ("%u selected", "%u selected", n), n);
  /* Translators: the selection bar's button */
  forward = g_strdup_printf (ngettext ("_Forward %u", "_Forward %u", n), n);
  gtk_label_set_label (self->selection_label, label);
  gtk_button_set_label (GTK_BUTTON (self->selection_forward), forward);
}

/* Select (again: unselect) a message; with any selected, the selection bar
 * forwards them together. */
static void
select_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  NatterMessage *message = find_message (self, g_variant_get_int64 (parameter));
  gint64 id;

  if (message == NULL)
    return;
  id = natter_message_get_message_id (message);
  if (g_hash_table_contains (self->selected, &id))
    {
      g_hash_table_remove (self->selected, &id);
      g_object_unref (message);
    }
  else
    g_hash_table_insert (self->selected, g_memdup2 (&id, sizeof id), message);
  update_selection (self);
}

static int
compare_sent_time (gconstpointer a,
                   gconstpointer b)
{
  gint64 ta = natter_message_get_sent_time (*(NatterMessage **) a);
  gint64 tb = natter_message_get_sent_time (*(NatterMessage **) b);

  return ta < tb ? -1 : ta > tb;
}

static void
forward_selected_activated (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->selected);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (messages, g_object_ref (value));
  g_ptr_array_sort (messages, compare_sent_time);
  g_hash_table_remove_all (self->selected);
  update_selection (self);
  open_forward_dialog (self, messages);
}

static void
cancel_selection_activated (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);

  g_hash_table_remove_all (self->selected);
  update_selection (self);
}

static void
build_selection_bar (NatterChatView *self)
{
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));

  self->selected = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->selection_bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_add_css_class (self->selection_bar, "selection-bar");
  gtk_widget_set_visible (self->selection_bar, FALSE);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (cancel), "chat.cancel-selection");
  gtk_box_append (GTK_BOX (self->selection_bar), cancel);
  self->selection_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_set_hexpand (GTK_WIDGET (self->selection_label), TRUE);
  gtk_box_append (GTK_BOX (self->selection_bar), GTK_WIDGET (self->selection_label));
  self->selection_forward = gtk_button_new_with_mnemonic (_("_Forward"));
  gtk_widget_add_css_class (self->selection_forward, "suggested-action");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->selection_forward), "chat.forward-selected");
  gtk_box_append (GTK_BOX (self->selection_bar), self->selection_forward);
  gtk_widget_insert_before (self->selection_bar, gtk_widget_get_parent (GTK_WIDGET (self->composer)),
                            GTK_WIDGET (self->composer));

  g_signal_connect_object (self->composer, "context-cancelled", G_CALLBACK (context_cancelled_cb), self,
                           G_CONNECT_SWAPPED);
}

static void
deleted_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_delete_message_locally_finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL)
    toast_error (self, _("Could not delete the message"), error);
}

/* Here only: the other side keeps the message. */
static void
delete_for_me_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  g_autoptr(NatterMessage) message = find_message (self, g_variant_get_int64 (parameter));

  if (message == NULL)
    return;
  if (self->reply_to == message)
    context_cancelled_cb (self);
  natter_client_delete_message_locally_async (self->client, message, NULL, deleted_cb, g_object_ref (self));
}

/* A reply's original: by the uid the reply names, else (an older client's
 * reply) the sender's message with the quoted text. */
static gboolean
is_referred (NatterMessage *reply,
             NatterMessage *candidate)
{
  const char *uid = natter_message_get_referred_message_uid (reply);
  JsonObject *quoted;

  if (uid != NULL)
    return g_strcmp0 (natter_message_get_message_uid (candidate), uid) == 0;
  quoted = natter_message_get_referred_content (reply);
  return quoted != NULL &&
         g_strcmp0 (natter_message_get_sender_user_id (candidate), natter_message_get_referred_user_id (reply)) == 0 &&
         g_strcmp0 (natter_message_get_object_name (candidate), natter_message_get_referred_object_name (reply)) == 0 &&
         g_strcmp0 (natter_message_get_text (candidate),
                    json_object_get_string_member_with_default (quoted, "content", "")) == 0;
}

static void
try_show_referred (NatterChatView *self)
{
  GListModel *model;
  guint n;

  if (self->messages == NULL || self->find_referred == NULL)
    return;
  model = G_LIST_MODEL (self->messages);
  n = g_list_model_get_n_items (model);
  for (guint i = n; i > 0; i--)
    {
      g_autoptr(NatterMessage) candidate = g_list_model_get_item (model, i - 1);

      if (candidate != self->find_referred && is_referred (self->find_referred, candidate))
        {
          g_clear_object (&self->find_referred);
          scroll_to_message (self, natter_message_get_message_id (candidate), TRUE);
          return;
        }
    }
  /* joins a load that runs already (the check with the server at open) */
  if (natter_message_list_get_has_more (self->messages) && self->find_referred_pages++ < MAX_PAGES_TO_FIND)
    {
      natter_message_list_load_older_async (self->messages, self->cancellable, load_older_cb, g_object_ref (self));
      update_loading (self);
    }
  else
    {
      g_clear_object (&self->find_referred);
      toast (self, _("The original message is not available"));
    }
}

static void
show_referred_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);
  NatterMessage *reply = find_message (self, g_variant_get_int64 (parameter));

  if (reply == NULL || natter_message_get_kind (reply) != NATTER_MESSAGE_KIND_REFERENCE)
    {
      g_clear_object (&reply);
      return;
    }
  g_clear_object (&self->find_referred);
  self->find_referred = reply;
  self->find_referred_pages = 0;
  try_show_referred (self);
}

/* ------------------------------------------------------- drag and drop */

static gboolean
drop_cb (GtkDropTarget  *target,
         const GValue   *value,
         double          x,
         double          y,
         NatterChatView *self)
{
  g_autoptr(GListStore) store = g_list_store_new (G_TYPE_FILE);

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST) || self->target_id == NULL)
    return FALSE;
  for (GSList *l = g_value_get_boxed (value); l != NULL; l = l->next)
    g_list_store_append (store, l->data);
  natter_chat_view_send_files (self, G_LIST_MODEL (store), FALSE);
  return TRUE;
}

/* ----------------------------------------------------------- open/close */

static void
window_active_cb (NatterChatView *self)
{
  maybe_mark_read (self);
}

static void
natter_chat_view_map (GtkWidget *widget)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);

  GTK_WIDGET_CLASS (natter_chat_view_parent_class)->map (widget);
  /* a scroll that waited for the chat to be on screen */
  if (self->find_id != 0)
    g_idle_add_full (G_PRIORITY_HIGH_IDLE + 20, retry_find_idle_cb, g_object_ref (self), g_object_unref);
  else if (self->sticky)
    queue_stick (self);
}

static void
natter_chat_view_root (GtkWidget *widget)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);

  GTK_WIDGET_CLASS (natter_chat_view_parent_class)->root (widget);
  self->window = GTK_WINDOW (gtk_widget_get_root (widget));
  g_signal_connect_object (self->window, "notify::is-active", G_CALLBACK (window_active_cb),
                           self, G_CONNECT_SWAPPED);
}

static void
natter_chat_view_unroot (GtkWidget *widget)
{
  NatterChatView *self = NATTER_CHAT_VIEW (widget);

  if (self->window != NULL)
    g_signal_handlers_disconnect_by_data (self->window, self);
  self->window = NULL;
  GTK_WIDGET_CLASS (natter_chat_view_parent_class)->unroot (widget);
}

static void
disconnect_conversation (NatterChatView *self)
{
  if (self->conversation == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->conversation, self);
  g_clear_object (&self->conversation);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONVERSATION]);
}

static void
attach_conversation (NatterChatView     *self,
                     NatterConversation *conversation)
{
  self->conversation = g_object_ref (conversation);
  g_signal_connect_swapped (conversation, "notify::title", G_CALLBACK (update_title), self);
  g_signal_connect_swapped (conversation, "notify::unread-count", G_CALLBACK (maybe_mark_read), self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONVERSATION]);
  maybe_mark_read (self);
}

/* ----------------------------------------------------------- @mentions */

/* The group's members when the app server says who they are (accounts),
 * else whoever spoke in what is loaded; "everyone" for owners and admins. */
static void
mention_candidates (NatterComposer *composer,
                    GPtrArray      *ids,
                    GPtrArray      *names,
                    gboolean       *everyone,
                    gpointer        user_data)
{
  NatterChatView *self = user_data;
  const char *own = self->client != NULL ? natter_client_get_user_id (self->client) : NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  *everyone = self->members != NULL && self->may_mention_all;
  if (self->members != NULL)
    {
      for (guint i = 0; i < self->members->len; i++)
        {
          NatterAccountUser *member = g_ptr_array_index (self->members, i);

          if (g_strcmp0 (member->user_id, own) == 0)
            continue;
          g_ptr_array_add (ids, g_strdup (member->user_id));
          g_ptr_array_add (names, g_strdup (*member->name != '\0' ? member->name : member->user_id));
        }
      return;
    }

  for (guint i = self->messages != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->messages)) : 0; i > 0; i--)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (self->messages), i - 1);
      const char *id = natter_message_get_sender_user_id (message);
      const NatterProfile *profile = id != NULL ? natter_store_lookup_user (natter_client_get_store (self->client), id)
                                                : NULL;
      const char *name = profile != NULL && profile->name != NULL && *profile->name != '\0' ?
                         profile->name : natter_message_get_sender_name (message);

      if (id == NULL || *id == '\0' || g_strcmp0 (id, own) == 0 || g_hash_table_contains (seen, id))
        continue;
      g_hash_table_add (seen, g_strdup (id));
      g_ptr_array_add (ids, g_strdup (id));
      g_ptr_array_add (names, g_strdup (name != NULL && *name != '\0' ? name : id));
    }
}

static void
members_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterChatView) self = user_data;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GError) error = NULL;
  const char *own;

  members = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (members == NULL || self->client == NULL)
    return;
  own = natter_client_get_user_id (self->client);
  self->may_mention_all = FALSE;
  for (guint i = 0; i < members->len; i++)
    {
      NatterAccountUser *member = g_ptr_array_index (members, i);

      if (g_strcmp0 (member->user_id, own) == 0)
        self->may_mention_all = member->role == NATTER_GROUP_ROLE_OWNER || member->role == NATTER_GROUP_ROLE_ADMIN;
    }
  g_clear_pointer (&self->members, g_ptr_array_unref);
  self->members = g_steal_pointer (&members);
}

static void
setup_mentions (NatterChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  NatterAccount *account;

  if (self->type != NATTER_CONVERSATION_GROUP && self->type != NATTER_CONVERSATION_DISCUSSION)
    {
      natter_composer_set_mention_func (self->composer, NULL, NULL);
      return;
    }
  natter_composer_set_mention_func (self->composer, mention_candidates, self);
  account = NATTER_IS_WINDOW (root) ? natter_window_get_account (NATTER_WINDOW (root)) : NULL;
  if (account != NULL && natter_account_is_complete (account))
    {
      g_autoptr(NatterAccountService) service = natter_account_service_for (account);

      if (service != NULL)
        natter_account_service_list_members_async (service, self->target_id, self->cancellable,
                                                   members_cb, g_object_ref (self));
    }
}

/* mentionedInfo of what the composer is sending, NULL if nobody. */
static JsonObject *
composer_mentions (NatterChatView *self)
{
  gboolean all = FALSE;
  g_auto(GStrv) ids = natter_composer_dup_mentions (self->composer, &all);

  if (!all && (ids == NULL || ids[0] == NULL))
    return NULL;
  return natter_content_new_mentioned_info (all, (const char * const *) ids);
}

void
natter_chat_view_close (NatterChatView *self)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));

  save_draft (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->typing_id, g_source_remove);
  g_clear_handle_id (&self->scroll_id, g_source_remove);
  self->cs_connecting = FALSE;
  self->cs_attempt = 0;
  g_clear_handle_id (&self->cs_retry_id, g_source_remove);
  if (self->messages != NULL)
    g_signal_handlers_disconnect_by_data (self->messages, self);
  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      g_signal_handlers_disconnect_by_data (natter_presence_tracker_for (self->client), self);
    }
  if (self->reveal_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->reveal_id);
  self->reveal_id = 0;
  gtk_list_view_set_model (self->list_view, NULL);
  g_clear_object (&self->shown);
  g_clear_object (&self->messages);
  disconnect_conversation (self);
  g_clear_pointer (&self->target_id, g_free);
  g_clear_pointer (&self->members, g_ptr_array_unref);
  natter_composer_set_mention_func (self->composer, NULL, NULL);
  self->find_id = 0;
  clear_message_actions (self);
  natter_composer_set_text (self->composer, "");
  update_loading (self);
}

void
natter_chat_view_open (NatterChatView         *self,
                       NatterConversationType  type,
                       const char             *target_id,
                       NatterConversation     *conversation)
{
  NatterClient *client;
  g_autoptr(GtkNoSelection) selection = NULL;

  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));
  g_return_if_fail (NATTER_IS_CLIENT (self->client));
  g_return_if_fail (target_id != NULL);

  client = self->client;
  if (self->type == type && g_strcmp0 (self->target_id, target_id) == 0)
    {
      /* the same chat: the conversation may have come since (a new chat's
       * first message, the list loaded after a notification opened it) */
      if (conversation != NULL && self->conversation == NULL)
        attach_conversation (self, conversation);
      update_title (self);
      return;
    }

  natter_chat_view_close (self);

  self->type = type;
  self->target_id = g_strdup (target_id);
  self->cancellable = g_cancellable_new ();
  self->sticky = TRUE;
  self->at_bottom = TRUE;
  self->first_unread_id = 0;
  self->unread_at_open = conversation != NULL ? natter_conversation_get_unread_count (conversation) : 0;
  if (self->unread_at_open > 0)
    self->at_bottom = FALSE;   /* not read until seen */
  if (conversation != NULL)
    attach_conversation (self, conversation);
  g_signal_connect_object (client, "message-received", G_CALLBACK (message_received_cb),
                           self, G_CONNECT_SWAPPED);
  if (type == NATTER_CONVERSATION_PRIVATE)
    {
      NatterPresenceTracker *tracker = natter_presence_tracker_for (client);

      /* "tick": the last seen ages with the tracker's one timer */
      g_signal_connect_object (tracker, "changed", G_CALLBACK (peer_presence_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (tracker, "tick", G_CALLBACK (presence_tick_cb), self, G_CONNECT_SWAPPED);
      natter_presence_tracker_watch (tracker, target_id);
    }

  self->messages = take_prefetched (self, type, target_id);
  if (self->messages == NULL)
    self->messages = natter_message_list_new (client, type, target_id);
  self->laid_out = FALSE;
  self->shown = natter_tail_model_new (G_LIST_MODEL (self->messages),
                                       tail_limit (self, list_height (self)));
  selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->shown)));
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (selection));
  /* after the list view's own handler: it must know a change before we
   * bind rows or scroll because of it */
  g_signal_connect_swapped (self->messages, "items-changed", G_CALLBACK (items_changed_cb), self);
  g_signal_connect_swapped (self->messages, "notify::loading", G_CALLBACK (update_loading), self);
  /* read ahead: its page came with no items-changed to us */
  if (g_list_model_get_n_items (G_LIST_MODEL (self->messages)) > 0)
    find_first_unread (self);

  natter_composer_set_text (self->composer,
                            conversation != NULL ? natter_conversation_get_draft (conversation) : "");
  setup_mentions (self);
  if (type == NATTER_CONVERSATION_CUSTOMER_SERVICE)
    send_cs_handshake (self);
  update_title (self);
  update_loading (self);
  gtk_revealer_set_reveal_child (self->jump_revealer, FALSE);
  queue_stick (self);
  queue_reveal (self);
  /* System and public-service chats take no replies (#16). */
  gtk_widget_set_visible (GTK_WIDGET (self->composer),
                          type != NATTER_CONVERSATION_SYSTEM && type != NATTER_CONVERSATION_APP_PUBLIC_SERVICE &&
                          type != NATTER_CONVERSATION_PUBLIC_SERVICE);
  natter_composer_focus (self->composer);
  maybe_mark_read (self);
}

NatterConversationType
natter_chat_view_get_conversation_type (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), 0);
  return self->type;
}

const char *
natter_chat_view_get_target_id (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->target_id;
}

NatterConversation *
natter_chat_view_get_conversation (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->conversation;
}

NatterMessageList *
natter_chat_view_get_messages (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->messages;
}

GtkListView *
natter_chat_view_get_list_view (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->list_view;
}

NatterComposer *
natter_chat_view_get_composer (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->composer;
}

/* The chat's name as its header shows it: the call names the peer so. */
const char *
natter_chat_view_get_title (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return adw_window_title_get_title (self->window_title);
}

AdwHeaderBar *
natter_chat_view_get_header_bar (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->header_bar;
}

NatterClient *
natter_chat_view_get_client (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->client;
}

/* Another client (or none): what was open goes, its draft kept. */
void
natter_chat_view_set_client (NatterChatView *self,
                             NatterClient   *client)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));
  g_return_if_fail (client == NULL || NATTER_IS_CLIENT (client));

  if (self->client == client)
    return;
  natter_chat_view_close (self);
  clear_prefetched (self);
  g_set_object (&self->client, client);
  if (client != NULL)
    g_signal_connect_object (natter_client_get_store (client), "message-updated",
                             G_CALLBACK (store_message_updated_cb), self, G_CONNECT_SWAPPED);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
}

NatterPortraits *
natter_chat_view_get_portraits (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->portraits;
}

void
natter_chat_view_set_portraits (NatterChatView  *self,
                                NatterPortraits *portraits)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));
  if (g_set_object (&self->portraits, portraits))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORTRAITS]);
}

void
natter_chat_view_set_show_back (NatterChatView *self,
                                gboolean        show_back)
{
  g_return_if_fail (NATTER_IS_CHAT_VIEW (self));
  gtk_widget_set_visible (self->back_button, show_back);
}

GtkBox *
natter_chat_view_get_header_box (NatterChatView *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_VIEW (self), NULL);
  return self->header_box;
}

static void
natter_chat_view_dispose (GObject *object)
{
  NatterChatView *self = (NatterChatView *) object;

  natter_chat_view_close (self);
  g_clear_object (&self->client);
  g_clear_object (&self->portraits);
  g_clear_pointer (&self->typing_text, g_free);
  g_clear_handle_id (&self->draft_id, g_source_remove);
  g_clear_pointer (&self->selected, g_hash_table_unref);
  g_clear_handle_id (&self->warm_id, g_source_remove);
  if (self->rehearsal_row != NULL)
    {
      gtk_widget_unparent (self->rehearsal_row);
      g_clear_object (&self->rehearsal_row);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_CHAT_VIEW);
  g_clear_pointer (&self->row_pool, g_ptr_array_unref);
  if (self->prefetched != NULL)
    clear_prefetched (self);
  g_clear_pointer (&self->prefetched, g_hash_table_unref);

  G_OBJECT_CLASS (natter_chat_view_parent_class)->dispose (object);
}

static void
natter_chat_view_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  NatterChatView *self = NATTER_CHAT_VIEW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_CONVERSATION:
      g_value_set_object (value, self->conversation);
      break;
    case PROP_PORTRAITS:
      g_value_set_object (value, self->portraits);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_chat_view_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  NatterChatView *self = NATTER_CHAT_VIEW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      natter_chat_view_set_client (self, g_value_get_object (value));
      break;
    case PROP_PORTRAITS:
      natter_chat_view_set_portraits (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_chat_view_class_init (NatterChatViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  unbound_quark = g_quark_from_static_string ("natter-chat-view-unbound");

  object_class->dispose = natter_chat_view_dispose;
  object_class->get_property = natter_chat_view_get_property;
  object_class->set_property = natter_chat_view_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT, rw);
  properties[PROP_CONVERSATION] =
    g_param_spec_object ("conversation", NULL, NULL, NATTER_TYPE_CONVERSATION,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PORTRAITS] =
    g_param_spec_object ("portraits", NULL, NULL, NATTER_TYPE_PORTRAITS, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SHOW_TOAST] =
    g_signal_new ("show-toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  widget_class->root = natter_chat_view_root;
  widget_class->map = natter_chat_view_map;
  widget_class->unroot = natter_chat_view_unroot;

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-chat-view.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, header_bar);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, back_button);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, window_title);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, header_avatar_overlay);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, header_avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, header_presence_dot);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, header_box);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, scrolled);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, list_view);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, empty_label);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, loading_spinner);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, jump_revealer);
  gtk_widget_class_bind_template_child (widget_class, NatterChatView, composer);
  gtk_widget_class_bind_template_callback (widget_class, natter_chat_view_scroll_to_bottom);
  gtk_widget_class_bind_template_callback (widget_class, natter_chat_view_send_files);
  gtk_widget_class_bind_template_callback (widget_class, send_text_cb);
  gtk_widget_class_bind_template_callback (widget_class, send_voice_cb);
  gtk_widget_class_bind_template_callback (widget_class, text_changed_cb);

  gtk_widget_class_install_action (widget_class, "chat.retry", "x", retry_activated);
  gtk_widget_class_install_action (widget_class, "chat.copy", "x", copy_activated);
  gtk_widget_class_install_action (widget_class, "chat.recall", "x", recall_activated);
  gtk_widget_class_install_action (widget_class, "chat.open-image", "x", open_image_activated);
  gtk_widget_class_install_action (widget_class, "chat.open-file", "x", open_file_activated);
  gtk_widget_class_install_action (widget_class, "chat.reply", "x", reply_activated);
  gtk_widget_class_install_action (widget_class, "chat.edit", "x", edit_activated);
  gtk_widget_class_install_action (widget_class, "chat.react", "(xsb)", react_activated);
  gtk_widget_class_install_action (widget_class, "chat.forward", "x", forward_activated);
  gtk_widget_class_install_action (widget_class, "chat.select", "x", select_activated);
  gtk_widget_class_install_action (widget_class, "chat.forward-selected", NULL, forward_selected_activated);
  gtk_widget_class_install_action (widget_class, "chat.cancel-selection", NULL, cancel_selection_activated);
  gtk_widget_class_install_action (widget_class, "chat.show-referred", "x", show_referred_activated);
  gtk_widget_class_install_action (widget_class, "chat.delete-for-me", "x", delete_for_me_activated);
}

static void
natter_chat_view_init (NatterChatView *self)
{
  GtkListItemFactory *factory;
  GtkDropTarget *drop;
  GtkAdjustment *adj;

  g_type_ensure (NATTER_TYPE_COMPOSER);
  g_type_ensure (NATTER_TYPE_PRESENCE_DOT);
  gtk_widget_init_template (GTK_WIDGET (self));
  /* what the sidebar leaves, whatever messages show (natter-pane-layout.c) */
  gtk_widget_set_layout_manager (GTK_WIDGET (self), natter_pane_layout_new (0));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (row_setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (row_bind_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (row_unbind_cb), self);
  g_signal_connect (factory, "teardown", G_CALLBACK (row_teardown_cb), self);
  self->row_pool = g_ptr_array_new_with_free_func (g_object_unref);
  self->prefetched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);

  adj = vadjustment (self);
  g_signal_connect_swapped (adj, "changed", G_CALLBACK (adjustment_changed_cb), self);
  g_signal_connect_swapped (adj, "value-changed", G_CALLBACK (value_changed_cb), self);
  g_signal_connect_swapped (adj, "notify::upper", G_CALLBACK (upper_changed_cb), self);
  g_signal_connect_swapped (adj, "notify::page-size", G_CALLBACK (upper_changed_cb), self);

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  natter_composer_set_cache_dir (self->composer, NULL);
  build_selection_bar (self);
  self->sticky = TRUE;
  self->at_bottom = TRUE;
}
