/* test-presence.c — libnatter presence subscriptions (#16) against a real
 * natterd: changes come as ::presence-changed, a sign-out is a logout, the
 * client subscribes again after natterd restarts (natterd keeps them in
 * memory), unsubscribe stops them, bad requests fail before any query;
 * natter_client_lookup_presence() knows who is hidden and a last seen
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-helpers.h"

static void
presence_changed_cb (NatterClient *client,
                     const char   *user_id,
                     gboolean      online,
                     const char   *platform,
                     gint64        time,
                     gboolean      logout,
                     GPtrArray    *events)
{
  /* 0: natterd does not say (a hidden user) */
  g_assert_true (time == 0 || ABS (time - g_get_real_time () / 1000) < 60000);
  g_ptr_array_add (events, g_strdup_printf ("%s %s %s%s", user_id, online ? "online" : "offline",
                                            platform, logout ? " logout" : ""));
}

static GPtrArray *watched_events;

static gboolean
got_events (gpointer data)
{
  return watched_events->len >= GPOINTER_TO_UINT (data);
}

/* The first event since @events was emptied. */
static void
wait_event (GPtrArray  *events,
            const char *expected)
{
  watched_events = events;
  test_wait_until (got_events, GUINT_TO_POINTER (1), 20, expected);
  g_assert_cmpstr (g_ptr_array_index (events, 0), ==, expected);
}

static gboolean
peer_not_connected (gpointer data)
{
  return natter_client_get_status (((Peer *) data)->client) != NATTER_CONNECTION_CONNECTED;
}

static void
test_presence (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);

  g_signal_connect (alice->client, "presence-changed", G_CALLBACK (presence_changed_cb), events);
  peer_connect (alice);

  natter_client_subscribe_presence_async (alice->client, (const char * const[]) { "bob", "nobody", NULL },
                                          3600, NULL, test_store_result_cb, &result);
  statuses = natter_client_subscribe_presence_finish (alice->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (statuses), ==, 1);
  g_assert_true (g_hash_table_contains (statuses, "bob"));
  g_assert_false (GPOINTER_TO_INT (g_hash_table_lookup (statuses, "bob")));
  g_clear_object (&result);

  peer_connect (bob);
  wait_event (events, "bob online linux");

  /* natterd forgets; alice's client subscribes again once reconnected */
  natter_test_server_stop (server);
  test_wait_until (peer_not_connected, alice, 20, "alice to notice");
  test_wait_until (peer_not_connected, bob, 20, "bob to notice");
  natter_test_server_restart (server);
  peer_wait_status (alice, NATTER_CONNECTION_CONNECTED, 30);
  peer_wait_status (bob, NATTER_CONNECTION_CONNECTED, 30);
  test_spin (500);
  g_ptr_array_set_size (events, 0);
  natter_client_sign_out (bob->client);
  wait_event (events, "bob offline  logout");

  natter_client_unsubscribe_presence_async (alice->client, (const char * const[]) { "bob", NULL },
                                            NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_unsubscribe_presence_finish (alice->client, test_wait_result (&result, 20),
                                                            &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  peer_connect (bob);
  test_spin (500);
  g_assert_cmpuint (events->len, ==, 1);

  /* refused before asking natterd */
  for (guint i = 0; i < 201; i++)
    g_ptr_array_add (many, g_strdup_printf ("u%u", i));
  g_ptr_array_add (many, NULL);
  natter_client_subscribe_presence_async (alice->client, (const char * const *) many->pdata, 60, NULL,
                                          test_store_result_cb, &result);
  g_assert_null (natter_client_subscribe_presence_finish (alice->client, test_wait_result (&result, 20), &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
  g_clear_error (&error);
  g_clear_object (&result);
  natter_client_subscribe_presence_async (alice->client, (const char * const[]) { "bob", NULL }, 59, NULL,
                                          test_store_result_cb, &result);
  g_assert_null (natter_client_subscribe_presence_finish (alice->client, test_wait_result (&result, 20), &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
  g_clear_object (&result);

  peer_free (bob, FALSE);
  peer_free (alice, FALSE);
}

static gboolean
show_online (Peer             *peer,
             NatterTestServer *server,
             int               show)
{
  g_autoptr(NatterAccountService) service = natter_account_service_new (natter_test_server_get_url (server),
                                                                        natter_test_server_get_app_key (server));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean shown;

  natter_account_service_set_token (service, peer->token);
  natter_account_service_show_online_async (service, show, NULL, test_store_result_cb, &result);
  shown = natter_account_service_show_online_finish (service, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  return shown;
}

/* bob hides his status (NatterAccountService, privacy.json): alice's
 * client hears of it and knows him hidden, not offline; shown again, she
 * sees him online, then his last seen. */
static void
test_hidden (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL,
                                         (const char * const[]) { "--app-setting", "accounts=open", NULL });
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;
  NatterPresence presence;

  g_signal_connect (alice->client, "presence-changed", G_CALLBACK (presence_changed_cb), events);
  peer_connect (alice);
  peer_connect (bob);
  g_assert_false (natter_client_lookup_presence (alice->client, "bob", &presence));
  natter_client_subscribe_presence_async (alice->client, (const char * const[]) { "bob", NULL },
                                          3600, NULL, test_store_result_cb, &result);
  statuses = natter_client_subscribe_presence_finish (alice->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  g_assert_true (natter_client_lookup_presence (alice->client, "bob", &presence));
  g_assert_true (presence.online);
  g_assert_false (presence.hidden);

  g_assert_true (show_online (bob, server, -1));
  g_assert_false (show_online (bob, server, FALSE));
  wait_event (events, "bob offline ");
  g_assert_true (natter_client_lookup_presence (alice->client, "bob", &presence));
  g_assert_true (presence.hidden);
  g_assert_false (presence.online);
  g_assert_cmpint (presence.last_seen, ==, 0);
  g_assert_false (show_online (bob, server, -1));

  g_ptr_array_set_size (events, 0);
  g_assert_true (show_online (bob, server, TRUE));
  wait_event (events, "bob online linux");
  g_assert_true (natter_client_lookup_presence (alice->client, "bob", &presence));
  g_assert_false (presence.hidden);
  g_assert_true (presence.online);

  g_ptr_array_set_size (events, 0);
  natter_client_disconnect (bob->client);
  wait_event (events, "bob offline ");
  g_assert_true (natter_client_lookup_presence (alice->client, "bob", &presence));
  g_assert_false (presence.online);
  g_assert_cmpint (ABS (presence.last_seen - g_get_real_time () / 1000), <, 60000);

  peer_free (bob, FALSE);
  peer_free (alice, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/presence/subscribe", test_presence);
  g_test_add_func ("/core/presence/hidden", test_hidden);

  return g_test_run ();
}
