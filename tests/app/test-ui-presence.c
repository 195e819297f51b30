/* test-ui-presence.c — online status in the app (#16)
 *
 * bob, a libnatter client in this process, comes and goes against a real
 * natterd whose app has accounts: alice's sidebar row of their chat gets
 * the online dot and her chat header says "online", then "last seen just
 * now" (screenshots presence-online.png, presence-last-seen.png in the
 * build dir); when bob hides his status (privacy.json) the header claims
 * nothing. The "last seen" texts at given times are checked on their own.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-presence-dot.h"
#include "natter-presence-tracker.h"
#include "natter-test-ui.h"

#define OPEN_APP ((const char * const[]) { "--app-setting", "accounts=open", NULL })

static void
setup_open (NatterTestUi  *ui,
            gconstpointer  data)
{
  natter_test_ui_setup (ui, data);
  natter_test_server_free (ui->server);
  ui->server = natter_test_server_new_full (NULL, OPEN_APP);
  natter_test_ui_sign_in (ui);
}

/* The chat header's subtitle (AdwWindowTitle), "" if none. */
static const char *
subtitle (NatterTestUi *ui)
{
  AdwWindowTitle *title = ADW_WINDOW_TITLE (natter_test_ui_find_type (GTK_WIDGET (ui->chat),
                                                                      ADW_TYPE_WINDOW_TITLE));
  const char *text = adw_window_title_get_subtitle (title);

  return text != NULL ? text : "";
}

typedef struct {
  NatterTestUi *ui;
  const char *text;
} Subtitle;

static gboolean
subtitle_is (gpointer data)
{
  Subtitle *wanted = data;

  return g_strcmp0 (subtitle (wanted->ui), wanted->text) == 0;
}

static void
wait_subtitle (NatterTestUi *ui,
               const char   *text)
{
  Subtitle wanted = { ui, text };
  g_autofree char *what = g_strdup_printf ("the chat header to say \"%s\"", text);

  natter_test_ui_wait_until (subtitle_is, &wanted, what);
}

static gboolean
dot_shown (gpointer sidebar)
{
  return natter_test_ui_find_type (sidebar, NATTER_TYPE_PRESENCE_DOT) != NULL;
}

static gboolean
dot_gone (gpointer sidebar)
{
  return !dot_shown (sidebar);
}

/* The chat header (not the messages: theirs are other avatars). */
static GtkWidget *
chat_header (NatterTestUi *ui)
{
  GtkWidget *header = natter_test_ui_find_type (GTK_WIDGET (ui->chat), ADW_TYPE_HEADER_BAR);

  g_assert_nonnull (header);
  return header;
}

static gboolean
header_dot_shown (gpointer ui)
{
  return natter_test_ui_find_type (chat_header (ui), NATTER_TYPE_PRESENCE_DOT) != NULL;
}

static gboolean
header_dot_gone (gpointer ui)
{
  return !header_dot_shown (ui);
}

static gboolean
header_has_avatar (NatterTestUi *ui)
{
  return natter_test_ui_find_type (chat_header (ui), ADW_TYPE_AVATAR) != NULL;
}

static void
show_online_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (natter_account_service_show_online_finish (NATTER_ACCOUNT_SERVICE (object), result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static void
test_presence (NatterTestUi  *ui,
               gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "bob");
  g_autofree char *profile = g_build_filename (ui->dir, "bob", NULL);
  g_autoptr(NatterClient) bob = NULL;
  g_autoptr(NatterAccountService) service = NULL;
  gboolean hidden = FALSE;

  natter_test_ui_publish (ui, "bob", "alice", "Are you there?");
  natter_test_ui_open_chat (ui, "bob", "Are you there?");
  /* never seen since natterd started: offline, no last seen */
  wait_subtitle (ui, "offline");
  g_assert_false (dot_shown (ui->sidebar));
  /* the peer's avatar in the header, no dot while offline */
  g_assert_true (header_has_avatar (ui));
  g_assert_false (header_dot_shown (ui));

  bob = natter_client_new (natter_test_server_get_url (ui->server), natter_test_server_get_app_key (ui->server),
                           profile);
  natter_client_connect (bob, token);
  wait_subtitle (ui, "online");
  natter_test_ui_wait_until (dot_shown, ui->sidebar, "the online dot on bob's row");
  natter_test_ui_wait_until (header_dot_shown, ui, "the online dot in the chat header");
  natter_test_ui_screenshot (GTK_WIDGET (ui->window), "presence-online.png");

  natter_client_disconnect (bob);
  wait_subtitle (ui, "last seen just now");
  natter_test_ui_wait_until (dot_gone, ui->sidebar, "the online dot gone");
  natter_test_ui_wait_until (header_dot_gone, ui, "the header's online dot gone");
  natter_test_ui_screenshot (GTK_WIDGET (ui->window), "presence-last-seen.png");

  /* bob hides his status: neither online nor a last seen is claimed */
  service = natter_account_service_new (natter_test_server_get_url (ui->server),
                                        natter_test_server_get_app_key (ui->server));
  natter_account_service_set_token (service, token);
  natter_account_service_show_online_async (service, FALSE, NULL, show_online_cb, &hidden);
  natter_test_ui_wait_until (natter_test_ui_is_true, &hidden, "bob's status hidden");
  wait_subtitle (ui, "");
  natter_client_connect (bob, token);
  natter_test_ui_wait_user_online (ui->server, "bob", TRUE);
  natter_test_ui_spin (500);
  g_assert_cmpstr (subtitle (ui), ==, "");
  g_assert_false (dot_shown (ui->sidebar));
  g_assert_false (header_dot_shown (ui));

  /* a group's header has no avatar, so no dot */
  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", NULL);
  natter_chat_view_open (ui->chat, NATTER_CONVERSATION_GROUP, "lunch", NULL);
  wait_subtitle (ui, "Group");
  natter_test_ui_screenshot (GTK_WIDGET (ui->window), "presence-group-header.png");
  g_assert_false (header_has_avatar (ui));
  g_assert_false (header_dot_shown (ui));
  natter_client_disconnect (bob);
}

/* The texts at given times (local time, as the app shows them). */
static void
test_describe (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_local (2026, 3, 10, 10, 0, 0);
  g_autoptr(GDateTime) yesterday = g_date_time_new_local (2026, 3, 9, 14, 2, 0);
  g_autoptr(GDateTime) today = g_date_time_new_local (2026, 3, 10, 8, 30, 0);
  gint64 now_ms = g_date_time_to_unix (now) * 1000;
  NatterPresence presence = { 0 };
  g_autofree char *five = NULL, *one = NULL, *at_yesterday = NULL, *at_today = NULL, *online = NULL;
  g_autofree char *hidden = NULL, *unknown = NULL;

  presence.last_seen = now_ms - 5 * 60 * 1000;
  five = natter_presence_describe (&presence, now_ms);
  g_assert_cmpstr (five, ==, "last seen 5 minutes ago");
  presence.last_seen = now_ms - 61 * 1000;
  one = natter_presence_describe (&presence, now_ms);
  g_assert_cmpstr (one, ==, "last seen 1 minute ago");
  presence.last_seen = g_date_time_to_unix (yesterday) * 1000;
  at_yesterday = natter_presence_describe (&presence, now_ms);
  g_assert_cmpstr (at_yesterday, ==, "last seen yesterday at 14:02");
  presence.last_seen = g_date_time_to_unix (today) * 1000;
  at_today = natter_presence_describe (&presence, now_ms);
  g_assert_cmpstr (at_today, ==, "last seen today at 08:30");
  presence.last_seen = 0;
  unknown = natter_presence_describe (&presence, now_ms);
  g_assert_cmpstr (unknown, ==, "offline");
  presence.online = TRUE;
  online = natter_presence_describe (&presence, now_ms);
  g_assert_cmpstr (online, ==, "online");
  presence.online = FALSE;
  presence.hidden = TRUE;
  hidden = natter_presence_describe (&presence, now_ms);
  g_assert_null (hidden);
}

/* At most 1,000 watched: the least recently watched go first. */
static void
test_watch_limit (void)
{
  g_autofree char *profile = g_build_filename (natter_test_ui_get_tmp_dir (), "watch-limit", NULL);
  g_autoptr(NatterClient) client = natter_client_new ("ws://127.0.0.1:9", "key", profile);
  NatterPresenceTracker *tracker = natter_presence_tracker_for (client);

  g_assert_true (natter_presence_tracker_for (client) == tracker);
  for (guint i = 0; i < NATTER_PRESENCE_MAX_WATCHED + 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("user%u", i);

      natter_presence_tracker_watch (tracker, id);
      /* user0 is watched again and again: it stays */
      natter_presence_tracker_watch (tracker, "user0");
    }
  g_assert_cmpuint (natter_presence_tracker_get_n_watched (tracker), ==, NATTER_PRESENCE_MAX_WATCHED);
  g_assert_true (natter_presence_tracker_is_watched (tracker, "user0"));
  for (guint i = 1; i <= 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("user%u", i);

      g_assert_false (natter_presence_tracker_is_watched (tracker, id));
    }
  g_assert_true (natter_presence_tracker_is_watched (tracker, "user6"));
  g_assert_true (natter_presence_tracker_is_watched (tracker, "user1004"));
  natter_test_ui_spin (50);
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add_func ("/ui/presence/describe", test_describe);
  g_test_add_func ("/ui/presence/watch-limit", test_watch_limit);
  g_test_add ("/ui/presence", NatterTestUi, NULL, setup_open, test_presence, natter_test_ui_teardown);

  return natter_test_ui_run ();
}
