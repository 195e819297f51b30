/* natter-test-ui.h — what the app's UI tests share
 *
 * One NatterApplication per test process, under Xvfb, with a notification
 * server in the process (the session bus of a test has none). Each case
 * gets a NatterTestUi: its own natterd (a real one, on 127.0.0.1), its own
 * directory for profiles and files, and, with
 * natter_test_ui_setup_signed_in(), alice's window signed in and
 * connected. Then widget finders, waits that keep the main loop running,
 * natter-cli as another user, screenshots, and a Secret Service stand-in.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "natter-application.h"
#include "natter-avatar.h"
#include "natter-chat-view.h"
#include "natter-composer.h"
#include "natter-sidebar.h"
#include "natter-test-server.h"
#include "natter-window.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------ the process */

/* Before g_test_add(): the environment of the app (test accessibility,
 * XDG dirs in a temporary dir, a default application for PDFs), the
 * notification server, g_test_init(). Takes `--language LANG` (the app in
 * that translation) and `--secret-service` (the Secret Service path on, on
 * a private bus that has none) off the command line. */
void               natter_test_ui_init            (int    *argc,
                                                   char ***argv);
/* g_test_run(), then the app and the temporary dir go. */
int                natter_test_ui_run             (void);
/* NULL unless run with --language. */
const char        *natter_test_ui_get_language    (void);
gboolean           natter_test_ui_get_secret_service (void);
/* The process's app (made, registered and held when first asked for). */
NatterApplication *natter_test_ui_app             (void);
/* The process's temporary dir (XDG_DATA_HOME, XDG_CACHE_HOME...). */
const char        *natter_test_ui_get_tmp_dir     (void);
/* Where the default application for PDFs copies what it opens. */
char              *natter_test_ui_dup_opened_path (void);

/* --------------------------------------------------------------- a case */

typedef struct {
  NatterTestServer *server;    /* this case's natterd */
  char             *dir;       /* this case's profiles and files */
  char             *profile;   /* alice's profile: dir/alice */
  /* the window natter_test_ui_open() opened last, and its parts */
  NatterWindow     *window;
  GtkWidget        *root;
  NatterSidebar    *sidebar;
  NatterChatView   *chat;
  GHashTable       *tokens;    /* user id → token: each asked for once */
} NatterTestUi;

/* A natterd and a directory; no window. */
void          natter_test_ui_setup           (NatterTestUi  *ui,
                                              gconstpointer  data);
/* The same, and alice signed in (natter_test_ui_sign_in()). */
void          natter_test_ui_setup_signed_in (NatterTestUi  *ui,
                                              gconstpointer  data);
/* Every window goes, the settings go back to their defaults, natterd
 * stops, the directory is deleted. */
void          natter_test_ui_teardown        (NatterTestUi  *ui,
                                              gconstpointer  data);

/* Opens the window of @profile (1100 × 720) and makes it ui->window. */
NatterWindow *natter_test_ui_open            (NatterTestUi  *ui,
                                              const char    *profile);
/* alice's profile as a sign-in leaves it (account.ini, the 0600 token
 * file), her window opened on it, connected. */
void          natter_test_ui_sign_in         (NatterTestUi  *ui);
/* @profile as a sign-in of @user_id leaves it, no window opened. */
void          natter_test_ui_write_profile   (NatterTestUi  *ui,
                                              const char    *user_id,
                                              const char    *profile);
/* The sign-in form filled with @server_url, the app key and @token, and
 * sent. */
void          natter_test_ui_sign_in_with_form (NatterTestUi *ui,
                                                const char   *server_url,
                                                const char   *token);
/* @user_id's token, the same each time (user/getToken also sets the name
 * to the id: asked again, it would undo natter_test_ui_set_user()). */
char         *natter_test_ui_token           (NatterTestUi  *ui,
                                              const char    *user_id);
/* natter-cli as @user_id (its profile in ui->dir) with the arguments
 * that follow, NULL-terminated; returns its stdout. The main loop runs
 * meanwhile. */
char         *natter_test_ui_cli             (NatterTestUi  *ui,
                                              const char    *user_id,
                                              ...) G_GNUC_NULL_TERMINATED;
/* natter-cli in the background, as natter_test_ui_cli() but with
 * NATTER_CALL_TEST_SOURCES=1 (the other side of a call); @run->done
 * turns TRUE when it ends, with its stdout in @run->out. */
typedef struct {
  gboolean  done;
  char     *out;
} NatterTestCliRun;

void          natter_test_ui_cli_start       (NatterTestUi     *ui,
                                              NatterTestCliRun *run,
                                              const char       *user_id,
                                              ...) G_GNUC_NULL_TERMINATED;
/* Waits for @run to end; its last line of output (the final JSON). */
JsonObject   *natter_test_cli_run_wait_result (NatterTestCliRun *run,
                                               const char       *what);
void          natter_test_cli_run_clear      (NatterTestCliRun *run);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NatterTestCliRun, natter_test_cli_run_clear)

/* natter-cli @from_id send @to_id @text */
void          natter_test_ui_send            (NatterTestUi  *ui,
                                              const char    *from_id,
                                              const char    *to_id,
                                              const char    *text);
/* The server API's message/private/publish of a text, without natter-cli. */
void          natter_test_ui_publish         (NatterTestUi  *ui,
                                              const char    *from_id,
                                              const char    *to_id,
                                              const char    *text);
/* A group @group_id with the users that follow, NULL-terminated. */
void          natter_test_ui_create_group    (NatterTestUi  *ui,
                                              const char    *group_id,
                                              const char    *group_name,
                                              ...) G_GNUC_NULL_TERMINATED;
/* The app server's name (and portrait, when not NULL) of @user_id. */
void          natter_test_ui_set_user        (NatterTestUi  *ui,
                                              const char    *user_id,
                                              const char    *name,
                                              const char    *portrait_uri);
/* A 480 × 320 PNG of a sunset in ui->dir. */
char         *natter_test_ui_write_image     (NatterTestUi  *ui);
/* Opens the chat with @target_id and waits for @text in it. */
void          natter_test_ui_open_chat       (NatterTestUi  *ui,
                                              const char    *target_id,
                                              const char    *text);

/* ------------------------------------------------------------------ waits */

typedef gboolean (*NatterTestUiPredicate) (gpointer data);

/* NATTER_TEST_WAIT_SECONDS, or 30 (90 under ASan). */
int          natter_test_ui_wait_seconds     (void);
/* Runs the main loop until @predicate holds; fails the test after
 * natter_test_ui_wait_seconds() saying it waited for @what. */
void         natter_test_ui_wait_until       (NatterTestUiPredicate  predicate,
                                              gpointer               data,
                                              const char            *what);
/* Runs the main loop for @ms. */
void         natter_test_ui_spin             (guint       ms);
void         natter_test_ui_wait_for_label   (GtkWidget  *root,
                                              const char *text);
/* Drops the file at @path on the open chat; asserts it was taken. */
void         natter_test_ui_drop_file        (NatterTestUi *ui,
                                              const char   *path);
void         natter_test_ui_wait_label_gone  (GtkWidget  *root,
                                              const char *text);
/* A label with @text in any window (dialogs too). */
void         natter_test_ui_wait_anywhere    (const char *text,
                                              const char *what);
void         natter_test_ui_wait_for_page    (NatterWindow *window,
                                              const char   *page);
void         natter_test_ui_wait_connected   (NatterWindow *window);

/* Predicates on a NatterWindow, for natter_test_ui_wait_until(). */
gboolean     natter_test_ui_is_connected     (gpointer    window);
/* alice's newest message in the open chat has reached the server. */
gboolean     natter_test_ui_last_sent        (gpointer    window);
/* A label with @text in any window. */
gboolean     natter_test_ui_label_anywhere   (gpointer    text);
gboolean     natter_test_ui_file_exists      (gpointer    path);
gboolean     natter_test_ui_is_true          (gpointer    gboolean_ptr);

/* alice's newest message in the open chat, or NULL. (Not simply the
 * last: one she sends within milliseconds of receiving one is ordered by
 * two clocks, natterd's and her estimate of it.) */
NatterMessage *natter_test_ui_last_own_message   (NatterWindow      *window);
/* The conversation @list shows for @type and @target_id, or NULL. */
NatterConversation *natter_test_ui_get_conversation (NatterConversationList *list,
                                                     NatterConversationType  type,
                                                     const char             *target_id);
/* The id of a message of @kind in the open chat (asserted). */
gint64       natter_test_ui_message_id_of_kind (NatterChatView    *chat,
                                                NatterMessageKind  kind);

/* ---------------------------------------------------------------- finders */

typedef gboolean (*NatterTestUiMatch) (GtkWidget     *widget,
                                       gconstpointer  data);

/* The first mapped (on screen) widget under @widget, itself included,
 * that @match accepts. */
GtkWidget   *natter_test_ui_find             (GtkWidget         *widget,
                                              NatterTestUiMatch  match,
                                              gconstpointer      data);
/* The same among all widgets under @widget, shown or not (a row in no
 * window, a hidden avatar). */
GtkWidget   *natter_test_ui_find_any         (GtkWidget         *widget,
                                              NatterTestUiMatch  match,
                                              gconstpointer      data);
/* A label on screen whose text contains @text. */
GtkWidget   *natter_test_ui_find_label       (GtkWidget  *widget,
                                              const char *text);
/* A label on screen whose whole text is @text. */
GtkWidget   *natter_test_ui_find_exact_label (GtkWidget  *widget,
                                              const char *text);
GtkWidget   *natter_test_ui_find_type        (GtkWidget  *widget,
                                              GType       type);
/* A picture on screen larger than an icon. */
GtkWidget   *natter_test_ui_find_picture     (GtkWidget  *widget);
GtkWidget   *natter_test_ui_find_entry_row   (GtkWidget  *widget,
                                              const char *title);
GtkWidget   *natter_test_ui_find_button_with_label (GtkWidget  *widget,
                                                    const char *text);
GtkWidget   *natter_test_ui_find_button_with_icon  (GtkWidget  *widget,
                                                    const char *icon_name);
/* A mapped window of @type (or a subtype). */
GtkWidget   *natter_test_ui_find_toplevel    (GType       type);
/* The call window on screen (NatterCallWindow), or NULL. */
GtkWidget   *natter_test_ui_call_window      (void);
gboolean     natter_test_ui_call_window_shown (gpointer   data);
gboolean     natter_test_ui_call_window_gone (gpointer    data);
/* Waits until natterd's user/checkOnline says @user_id is (not) online. */
void         natter_test_ui_wait_user_online (NatterTestServer *server,
                                              const char       *user_id,
                                              gboolean          online);
/* The message dialog on screen, or NULL. */
GtkWidget   *natter_test_ui_find_message_dialog (void);
/* For natter_test_ui_wait_until(): an avatar under @widget shows a
 * picture rather than initials; a picture is on screen under @widget. */
gboolean     natter_test_ui_has_portrait     (gpointer    widget);
gboolean     natter_test_ui_has_picture      (gpointer    widget);

/* ----------------------------------------------------------------- doing */

void         natter_test_ui_set_row_text     (GtkWidget  *root,
                                              const char *title,
                                              const char *text);
/* Opens the sign-in page's "Advanced" expander (token, app server). */
void         natter_test_ui_show_advanced    (GtkWidget  *root);
/* Types @text into the entry of the message dialog on screen. */
void         natter_test_ui_set_dialog_text  (const char *text);
/* Answers the message dialog on screen with @response. */
void         natter_test_ui_respond_to_dialog (const char *response);
void         natter_test_ui_close_windows_of_type (GType   type);
/* A key press as the key controllers of @widget's capture phase (the
 * composer's) see it; TRUE if one handled it. */
gboolean     natter_test_ui_press_key        (GtkWidget       *widget,
                                              guint            keyval,
                                              GdkModifierType  state);
/* Preferences → Account says where the token is kept. */
void         natter_test_ui_preferences_show_token_note (void);
/* The content of @window, as on screen, in G_TEST_BUILDDIR/@name (the
 * toasts on screen closed first). */
void         natter_test_ui_screenshot       (GtkWidget  *window,
                                              const char *name);

/* ---------------------------------------------------------- notifications */

/* Some notification since the case began has @text in its title or body. */
gboolean     natter_test_ui_notified         (gpointer    text);
/* The notification of @target_id's chat in ui->profile was taken back. */
gboolean     natter_test_ui_withdrawn        (NatterTestUi           *ui,
                                              NatterConversationType  type,
                                              const char             *target_id);
/* Forgets the notifications sent and taken back so far. */
void         natter_test_ui_forget_notifications (void);
/* What the shell does when the notification that says @text is clicked
 * (@button NULL) or one of its buttons is: the action, over D-Bus, to the
 * app that sent it. */
void         natter_test_ui_click_notification (const char *text,
                                                const char *button);
/* The same, to the app at @bus_name (another process: "im.natter.Natter"). */
void         natter_test_ui_click_notification_of (const char *bus_name,
                                                   const char *object_path,
                                                   const char *text,
                                                   const char *button);

/* ------------------------------------------------------ a Secret Service */

/* Enough of org.freedesktop.secrets for libsecret's password calls (plain
 * sessions, one unlocked collection, no prompts), with what it holds: one
 * item at most, as Natter stores one token per profile. */
typedef struct {
  GVariant *attributes;   /* a{ss} of the stored item, NULL: none */
  char     *secret;
  guint     stores;
  guint     deletes;
} NatterTestKeyring;

/* On the session bus, its name owned. */
NatterTestKeyring *natter_test_ui_start_secret_service (void);
void               natter_test_ui_stop_secret_service  (NatterTestKeyring *keyring);

G_END_DECLS
