/* test-ui.c — signing in and staying connected, against a real natterd
 *
 * Each case has its own natterd and profile (natter-test-ui.h); run one
 * alone with `-p /ui/NAME`. `--language zh_CN` runs the first run in
 * Chinese; `--secret-service` the Secret Service cases, on a private bus.
 * Nothing here depends on exact pixels.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/stat.h>

#include "natter-test-ui.h"

static gboolean
file_present (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static gboolean
file_gone (gpointer path)
{
  return !g_file_test (path, G_FILE_TEST_EXISTS);
}

/* A first run: a wrong token is refused with its reference code and the
 * form stays; the right one signs in and lands in the 0600 file (no
 * keyring here). */
static void
test_first_run (NatterTestUi  *ui,
                gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "alice");
  g_autofree char *token_path = NULL;
  GtkWidget *button;
  struct stat st;

  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_wait_for_label (ui->root, "Welcome to Natter");
  natter_test_ui_set_row_text (ui->root, "Server Address", natter_test_server_get_url (ui->server));
  natter_test_ui_set_row_text (ui->root, "App Key", natter_test_server_get_app_key (ui->server));

  natter_test_ui_show_advanced (ui->root);
  natter_test_ui_set_row_text (ui->root, "Token", "not-a-token");
  button = natter_test_ui_find_button_with_label (ui->root, "Sign In");
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_get_sensitive (button));
  gtk_widget_activate (button);
  natter_test_ui_wait_for_label (ui->root, "31004");
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");

  natter_test_ui_set_row_text (ui->root, "Token", token);
  gtk_widget_activate (button);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
  token_path = natter_account_dup_token_path (natter_window_get_account (ui->window));
  g_assert_true (g_str_has_prefix (token_path, ui->profile));
  /* saved on a thread, started as the connection was accepted */
  natter_test_ui_wait_until (file_present, token_path, "the token saved");
  g_assert_cmpint (g_stat (token_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

/* Signing out forgets the token and comes back to a filled-in form. */
static void
test_sign_out (NatterTestUi  *ui,
               gconstpointer  data)
{
  g_autofree char *token_path = natter_account_dup_token_path (natter_window_get_account (ui->window));
  GtkWidget *server_row;

  g_assert_true (g_file_test (token_path, G_FILE_TEST_EXISTS));
  gtk_widget_activate_action (ui->root, "win.sign-out", NULL);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  server_row = natter_test_ui_find_entry_row (ui->root, "Server Address");
  g_assert_nonnull (server_row);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (server_row)), ==, natter_test_server_get_url (ui->server));
  natter_test_ui_spin (300);
  g_assert_false (g_file_test (token_path, G_FILE_TEST_EXISTS));
  g_assert_null (natter_window_get_client (ui->window));
}

/* The server goes away: an unobtrusive banner; back: it goes. */
static void
test_reconnect_banner (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_assert_null (natter_test_ui_find_label (ui->root, "Reconnecting…"));
  natter_test_server_stop (ui->server);
  natter_test_ui_wait_for_label (ui->root, "Reconnecting…");
  natter_test_server_restart (ui->server);
  natter_test_ui_wait_until (natter_test_ui_is_connected, ui->window, "alice reconnected");
  natter_test_ui_wait_label_gone (ui->root, "Reconnecting…");
}

static gboolean
is_kicked (gpointer window)
{
  NatterClient *client = natter_window_get_client (window);
  return client != NULL &&
         natter_client_get_status (client) == NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT;
}

/* alice signs in elsewhere: a dialog, no reconnecting by itself; “Use
 * Here” connects again. */
static void
test_signed_in_elsewhere (NatterTestUi  *ui,
                          gconstpointer  data)
{
  /* natter-cli as alice, on another device */
  g_free (natter_test_ui_cli (ui, "alice", "sync", NULL));
  natter_test_ui_wait_until (is_kicked, ui->window, "alice kicked");
  natter_test_ui_wait_anywhere ("Signed In on Another Device", "the kicked dialog");
  natter_test_ui_spin (1500);
  g_assert_true (is_kicked (ui->window));   /* still: it waits for the user */
  natter_test_ui_respond_to_dialog ("reconnect");
  natter_test_ui_wait_until (natter_test_ui_is_connected, ui->window, "alice back after Use Here");
}

/* ---------------------------------------------------- an app server */

/* An app server as the seed describes it: POST userId (form-encoded), get
 * {"code":200,"token":...} back. This one knows erin only. */
static void
app_server_cb (SoupServer        *soup_server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  const char *token = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autofree char *form_text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_autoptr(GHashTable) form = soup_form_decode (form_text);
  g_autofree char *reply = NULL;

  if (g_strcmp0 (g_hash_table_lookup (form, "userId"), "erin") == 0)
    reply = g_strdup_printf ("{\"code\":200,\"userId\":\"erin\",\"token\":\"%s\"}", token);
  else
    reply = g_strdup ("{\"code\":1002,\"errorMessage\":\"unknown user\"}");
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, reply, strlen (reply));
}

static gboolean
app_server_row_shown (gpointer root)
{
  return natter_test_ui_find_entry_row (root, "App Server Address") != NULL;
}

/* A first run through an app server instead of a token: a user it does
 * not know is refused with its answer shown; erin signs in, and the app
 * server is remembered. */
static void
test_app_server (NatterTestUi  *ui,
                 gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "erin");
  g_autofree char *profile = g_build_filename (ui->dir, "erin", NULL);
  g_autofree char *ini_path = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *ini = NULL;
  g_autofree char *app_server_url = NULL;
  g_autoptr(SoupServer) app_server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;
  GtkWidget *toggle;

  soup_server_add_handler (app_server, "/token", app_server_cb, token, NULL);
  g_assert_true (soup_server_listen_local (app_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (app_server);
  app_server_url = g_strdup_printf ("http://127.0.0.1:%d/token", g_uri_get_port (uris->data));
  g_slist_foreach (uris, (GFunc) g_uri_unref, NULL);

  natter_test_ui_open (ui, profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_show_advanced (ui->root);
  natter_test_ui_wait_for_label (ui->root, "Through an App Server");
  toggle = natter_test_ui_find_button_with_label (ui->root, "Through an App Server");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (toggle), TRUE);
  natter_test_ui_wait_until (app_server_row_shown, ui->root, "the app server rows");
  natter_test_ui_set_row_text (ui->root, "Server Address", natter_test_server_get_url (ui->server));
  natter_test_ui_set_row_text (ui->root, "App Key", natter_test_server_get_app_key (ui->server));
  natter_test_ui_set_row_text (ui->root, "App Server Address", app_server_url);

  natter_test_ui_set_row_text (ui->root, "User ID", "mallory");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_label (ui->root, "did not give a token");
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");

  natter_test_ui_set_row_text (ui->root, "User ID", "erin");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_until (natter_test_ui_is_connected, ui->window, "erin connected");
  g_assert_cmpstr (natter_client_get_user_id (natter_window_get_client (ui->window)), ==, "erin");

  natter_test_ui_spin (300);
  g_assert_true (g_file_get_contents (ini_path, &ini, NULL, NULL));
  g_assert_nonnull (strstr (ini, app_server_url));
  soup_server_disconnect (app_server);
}

static gboolean
message_dialog_shown (gpointer data)
{
  return natter_test_ui_find_message_dialog () != NULL;
}

static gboolean
message_dialog_gone (gpointer data)
{
  return natter_test_ui_find_message_dialog () == NULL;
}

/* Signing in to a server over plain http:// that is not on this machine
 * asks first (the token would cross the network readable); loopback does
 * not ask. 0.0.0.0 is not loopback, yet connecting to it stays here. */
static void
test_unencrypted_sign_in (NatterTestUi  *ui,
                          gconstpointer  data)
{
  g_autofree char *ivan = natter_test_ui_token (ui, "ivan");
  g_autofree char *profile = g_build_filename (ui->dir, "ivan", NULL);
  GtkWidget *dialog, *button;

  natter_test_ui_open (ui, profile);
  natter_test_ui_sign_in_with_form (ui, "http://0.0.0.0:1", ivan);

  /* it asks; cancelled, nothing happens */
  natter_test_ui_wait_until (message_dialog_shown, NULL, "the unencrypted connection dialog");
  dialog = natter_test_ui_find_message_dialog ();
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Sign In Without Encryption?");
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "0.0.0.0"));
  button = natter_test_ui_find_button_with_label (dialog, "Cancel");
  g_assert_nonnull (button);
  gtk_widget_activate (button);
  natter_test_ui_wait_until (message_dialog_gone, NULL, "the dialog closed");
  natter_test_ui_spin (200);
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");
  g_assert_null (natter_window_get_client (ui->window));
  g_assert_true (gtk_widget_get_sensitive (natter_test_ui_find_button_with_label (ui->root, "Sign In")));

  /* agreed to, it signs in (and finds nobody there) */
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_until (message_dialog_shown, NULL, "the dialog again");
  gtk_widget_activate (natter_test_ui_find_button_with_label (natter_test_ui_find_message_dialog (),
                                                              "Sign In Anyway"));
  natter_test_ui_wait_for_label (ui->root, "0.0.0.0");
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");

  /* a loopback server: no question */
  natter_test_ui_set_row_text (ui->root, "Server Address", natter_test_server_get_url (ui->server));
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  g_assert_null (natter_test_ui_find_message_dialog ());
}

/* The server field takes several nodes separated by commas: a bad one is
 * named, and a list whose first node is not there signs in on the next. */
static void
test_server_list_sign_in (NatterTestUi  *ui,
                          gconstpointer  data)
{
  g_autofree char *ivan = natter_test_ui_token (ui, "ivan");
  g_autofree char *profile = g_build_filename (ui->dir, "ivan", NULL);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *list = NULL;

  /* a loopback port nothing listens on */
  g_assert_true (g_socket_bind (socket, address, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  list = g_strdup_printf ("http://127.0.0.1:%u, %s",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)),
                          natter_test_server_get_url (ui->server));
  bad = g_strdup_printf ("%s,ftp://127.0.0.1:1", natter_test_server_get_url (ui->server));

  natter_test_ui_open (ui, profile);
  natter_test_ui_sign_in_with_form (ui, bad, ivan);
  natter_test_ui_wait_for_label (ui->root, "ftp://127.0.0.1:1");
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");
  g_assert_null (natter_window_get_client (ui->window));

  natter_test_ui_set_row_text (ui->root, "Server Address", list);
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_until (natter_test_ui_is_connected, ui->window, "ivan connected");
  g_assert_cmpstr (natter_client_get_current_server_url (natter_window_get_client (ui->window)), ==,
                   natter_test_server_get_url (ui->server));
}

/* ---------------------------------------------------- toasts, one at a time */

/* Toasts on screen (shown or fading out) in the overlay. */
static guint
toasts_on_screen (GtkWidget *overlay)
{
  GtkWidget *content = adw_toast_overlay_get_child (ADW_TOAST_OVERLAY (overlay));
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (overlay); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (child != content)
      n++;
  return n;
}

static gboolean
wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @text is on screen (@text NULL: for @ms),
 * asserting in every turn that at most one toast is. */
static void
spin_one_toast (GtkWidget  *overlay,
                const char *text,
                guint       ms)
{
  gint64 until = g_get_monotonic_time () +
                 (text != NULL ? (gint64) natter_test_ui_wait_seconds () * 1000 : (gint64) ms) * 1000;
  guint wake = g_timeout_add (5, wake_cb, NULL);

  while (text != NULL ? natter_test_ui_find_label (overlay, text) == NULL : g_get_monotonic_time () < until)
    {
      if (text != NULL && g_get_monotonic_time () > until)
        g_error ("Timed out waiting for the toast “%s”", text);
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpuint (toasts_on_screen (overlay), <=, 1);
    }
  g_source_remove (wake);
}

/* The toast on screen that says @text. */
static GtkWidget *
find_toast (GtkWidget  *overlay,
            const char *text)
{
  GtkWidget *label = natter_test_ui_find_label (overlay, text);

  return label != NULL ? gtk_widget_get_ancestor (label, g_type_from_name ("AdwToastWidget")) : NULL;
}

/* Its close button clicked (now: gtk_widget_activate() clicks 250 ms later). */
static void
close_toast (GtkWidget  *overlay,
             const char *text)
{
  GtkWidget *toast = find_toast (overlay, text);
  GtkWidget *button = toast != NULL ? natter_test_ui_find_button_with_icon (toast, "window-close-symbolic") : NULL;

  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
}

/* libadwaita 1.2 (Debian 12) frees a toast when its fade-out ends; if its
 * slide-in has not ended by then (closed within a frame of appearing, or
 * within 200 ms of replacing one that was fading out), the slide-in's end
 * reads and writes the freed memory: the ui test's rare crash after the
 * dark-mode screenshot (screenshots close the toasts on screen, five take
 * turns by then). The window shows a toast once the one before has gone,
 * and a toast closed before it has slid in goes after. */
static void
test_toasts (NatterTestUi  *ui,
             gconstpointer  data)
{
  GtkWidget *overlay;

  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  overlay = natter_test_ui_find_type (ui->root, ADW_TYPE_TOAST_OVERLAY);
  g_assert_nonnull (overlay);
  natter_window_add_toast (ui->window, "First toast");
  natter_window_add_toast (ui->window, "Second toast");
  natter_window_add_toast (ui->window, "Third toast");
  spin_one_toast (overlay, "First toast", 0);
  g_assert_null (natter_test_ui_find_label (overlay, "Second toast"));   /* waits its turn */

  /* closed as soon as it is there: it stays until it has slid in (a
   * fading toast takes no clicks) */
  close_toast (overlay, "First toast");
  g_assert_true (gtk_widget_get_can_target (find_toast (overlay, "First toast")));
  /* the second once the first has gone, never over it; closed at once too */
  spin_one_toast (overlay, "Second toast", 0);
  g_assert_null (natter_test_ui_find_label (overlay, "First toast"));
  close_toast (overlay, "Second toast");
  g_assert_true (gtk_widget_get_can_target (find_toast (overlay, "Second toast")));
  spin_one_toast (overlay, "Third toast", 0);
  g_assert_null (natter_test_ui_find_label (overlay, "Second toast"));
  spin_one_toast (overlay, NULL, 600);
  close_toast (overlay, "Third toast");
  natter_test_ui_wait_label_gone (overlay, "Third toast");
}

/* ----------------------------------------- test-ui --language zh_CN */

/* The first run in Simplified Chinese. */
static void
test_translated (NatterTestUi  *ui,
                 gconstpointer  data)
{
  g_autofree char *profile = g_build_filename (ui->dir, "zh", NULL);

  natter_test_ui_open (ui, profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_wait_for_label (ui->root, "欢迎使用 Natter");
  natter_test_ui_wait_for_label (ui->root, "登录你的 Natter 服务器");
  g_assert_nonnull (natter_test_ui_find_entry_row (ui->root, "服务器地址"));
  g_assert_nonnull (natter_test_ui_find_entry_row (ui->root, "密码"));
  natter_test_ui_screenshot (ui->root, "screenshot-sign-in-zh_CN.png");
}

/* --------------------------------------- test-ui --secret-service */

/* The sign-in form of @profile filled with @user_id's token and sent;
 * waits until connected. */
static void
sign_in_as (NatterTestUi *ui,
            const char   *profile,
            const char   *token)
{
  natter_test_ui_open (ui, profile);
  natter_test_ui_sign_in_with_form (ui, natter_test_server_get_url (ui->server), token);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
}

/* Reopens the window of @profile (closed first), signed in. */
static void
reopen (NatterTestUi *ui,
        const char   *profile)
{
  gtk_window_destroy (GTK_WINDOW (ui->window));
  natter_test_ui_spin (300);
  natter_test_ui_open (ui, profile);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
}

/* With the Secret Service path on but no Secret Service on the bus (a
 * private one, so a keyring installed on the machine cannot be
 * activated): signing in works, the token lands in the 0600 file, the
 * note about it is shown; the next start reads it back through the same
 * path (a lookup that fails), and signing out removes it. */
static void
test_secret_service_fallback (NatterTestUi  *ui,
                              gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "grace");
  g_autofree char *profile = g_build_filename (ui->dir, "grace", NULL);
  g_autofree char *token_path = NULL;
  g_autofree char *stored = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) activatable = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree const char **names = NULL;
  struct stat st;

  g_assert_cmpstr (g_getenv ("NATTER_SECRET_SERVICE"), !=, "0");
  /* the precondition: nobody owns or can start the Secret Service here */
  g_assert_nonnull (bus);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", "org.freedesktop.secrets"),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (reply);
  g_assert_false (g_variant_get_boolean (g_variant_get_child_value (reply, 0)));
  activatable = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "ListActivatableNames", NULL,
                                             G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (activatable);
  list = g_variant_get_child_value (activatable, 0);
  names = g_variant_get_strv (list, NULL);
  g_assert_false (g_strv_contains (names, "org.freedesktop.secrets"));

  sign_in_as (ui, profile, token);

  /* the note, as a toast in the window */
  natter_test_ui_wait_for_label (ui->root, "No keyring is running");
  g_assert_true (natter_account_get_token_in_file (natter_window_get_account (ui->window)));
  token_path = natter_account_dup_token_path (natter_window_get_account (ui->window));
  g_assert_true (g_str_has_prefix (token_path, profile));
  g_assert_cmpint (g_stat (token_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (token_path, &stored, NULL, NULL));
  g_assert_cmpstr (stored, ==, token);
  g_assert_nonnull (natter_test_ui_find_label (ui->root, token_path));

  /* and in Preferences → Account */
  natter_test_ui_preferences_show_token_note ();

  /* the next start: the lookup fails, the file is read, grace is signed in.
   * It starts as a notification's action does when no window is open: the
   * chat asked for opens once the profile is read. */
  gtk_window_destroy (GTK_WINDOW (ui->window));
  natter_test_ui_spin (300);
  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "open-conversation",
                                  g_variant_new ("(sis)", profile, NATTER_CONVERSATION_PRIVATE, "alice"));
  natter_test_ui_open (ui, profile);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_until (natter_test_ui_is_connected, ui->window, "grace connected again");
  g_assert_true (natter_account_get_token_in_file (natter_window_get_account (ui->window)));
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "alice");

  /* signing out: the clear fails too, the file goes */
  gtk_widget_activate_action (ui->root, "win.sign-out", NULL);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_wait_until (file_gone, token_path, "the token file gone");
}

static gboolean
keyring_empty (gpointer keyring)
{
  return ((NatterTestKeyring *) keyring)->secret == NULL;
}

static gboolean
keyring_stored (gpointer keyring)
{
  return ((NatterTestKeyring *) keyring)->stores > 0;
}

/* With a Secret Service: the token goes there and nowhere else, no note;
 * the next start reads it from there; signing out deletes it. */
static void
test_secret_service_keyring (NatterTestUi  *ui,
                             gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "heidi");
  g_autofree char *profile = g_build_filename (ui->dir, "heidi", NULL);
  g_autofree char *token_path = g_build_filename (profile, "token", NULL);
  NatterTestKeyring *keyring = natter_test_ui_start_secret_service ();
  const char *stored_profile = NULL;

  sign_in_as (ui, profile, token);

  /* in the keyring, under this profile, and in no file */
  natter_test_ui_wait_until (keyring_stored, keyring, "the token in the keyring");
  g_assert_cmpuint (keyring->stores, ==, 1);
  g_assert_cmpstr (keyring->secret, ==, token);
  g_assert_true (g_variant_lookup (keyring->attributes, "profile", "&s", &stored_profile));
  g_assert_cmpstr (stored_profile, ==, natter_account_get_profile_dir (natter_window_get_account (ui->window)));
  natter_test_ui_spin (300);
  g_assert_false (natter_account_get_token_in_file (natter_window_get_account (ui->window)));
  g_assert_false (g_file_test (token_path, G_FILE_TEST_EXISTS));
  g_assert_null (natter_test_ui_find_label (ui->root, "No keyring is running"));

  /* the next start reads it from the keyring */
  reopen (ui, profile);
  g_assert_false (natter_account_get_token_in_file (natter_window_get_account (ui->window)));

  /* signing out deletes it */
  gtk_widget_activate_action (ui->root, "win.sign-out", NULL);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_wait_until (keyring_empty, keyring, "the token deleted from the keyring");
  g_assert_cmpuint (keyring->deletes, ==, 1);

  gtk_window_destroy (GTK_WINDOW (ui->window));
  natter_test_ui_spin (100);
  natter_test_ui_stop_secret_service (keyring);
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  if (natter_test_ui_get_language () != NULL)
    g_test_add ("/ui/translated-first-run", NatterTestUi, NULL,
                natter_test_ui_setup, test_translated, natter_test_ui_teardown);
  else if (natter_test_ui_get_secret_service ())
    {
      g_test_add ("/ui/secret-service-fallback", NatterTestUi, NULL,
                  natter_test_ui_setup, test_secret_service_fallback, natter_test_ui_teardown);
      g_test_add ("/ui/secret-service-keyring", NatterTestUi, NULL,
                  natter_test_ui_setup, test_secret_service_keyring, natter_test_ui_teardown);
    }
  else
    {
      g_test_add ("/ui/first-run", NatterTestUi, NULL,
                  natter_test_ui_setup, test_first_run, natter_test_ui_teardown);
      g_test_add ("/ui/app-server-sign-in", NatterTestUi, NULL,
                  natter_test_ui_setup, test_app_server, natter_test_ui_teardown);
      g_test_add ("/ui/unencrypted-sign-in", NatterTestUi, NULL,
                  natter_test_ui_setup, test_unencrypted_sign_in, natter_test_ui_teardown);
      g_test_add ("/ui/server-list-sign-in", NatterTestUi, NULL,
                  natter_test_ui_setup, test_server_list_sign_in, natter_test_ui_teardown);
      g_test_add ("/ui/sign-out", NatterTestUi, NULL,
                  natter_test_ui_setup_signed_in, test_sign_out, natter_test_ui_teardown);
      g_test_add ("/ui/reconnect-banner", NatterTestUi, NULL,
                  natter_test_ui_setup_signed_in, test_reconnect_banner, natter_test_ui_teardown);
      g_test_add ("/ui/signed-in-elsewhere", NatterTestUi, NULL,
                  natter_test_ui_setup_signed_in, test_signed_in_elsewhere, natter_test_ui_teardown);
      g_test_add ("/ui/toasts-one-at-a-time", NatterTestUi, NULL,
                  natter_test_ui_setup, test_toasts, natter_test_ui_teardown);
    }
  return natter_test_ui_run ();
}
