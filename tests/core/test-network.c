/* test-network.c — reconnecting when GNetworkMonitor says the network is back
 *
 * This process's default GNetworkMonitor is a fake the test switches: the
 * network coming back cuts the backoff short, and while it is down the
 * client says NETWORK_UNAVAILABLE and waits instead of retrying.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter.h"
#include "natter-client-private.h"
#include "natter-test-server.h"
#include "test-helpers.h"

#define FAKE_TYPE_MONITOR (fake_monitor_get_type ())
G_DECLARE_FINAL_TYPE (FakeMonitor, fake_monitor, FAKE, MONITOR, GObject)

struct _FakeMonitor
{
  GObject parent_instance;
  gboolean available;
};

static void fake_initable_iface_init (GInitableIface *iface);
static void fake_monitor_iface_init (GNetworkMonitorInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeMonitor, fake_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, fake_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, fake_monitor_iface_init))

enum {
  PROP_0,
  PROP_NETWORK_AVAILABLE,
  PROP_NETWORK_METERED,
  PROP_CONNECTIVITY,
};

static gboolean
fake_init (GInitable     *initable,
           GCancellable  *cancellable,
           GError       **error)
{
  return TRUE;
}

static void
fake_initable_iface_init (GInitableIface *iface)
{
  iface->init = fake_init;
}

static gboolean
fake_can_reach (GNetworkMonitor     *monitor,
                GSocketConnectable  *connectable,
                GCancellable        *cancellable,
                GError             **error)
{
  return TRUE;
}

static void
fake_monitor_iface_init (GNetworkMonitorInterface *iface)
{
  iface->can_reach = fake_can_reach;
}

static void
fake_get_property (GObject    *object,
                   guint       prop_id,
                   GValue     *value,
                   GParamSpec *pspec)
{
  FakeMonitor *self = FAKE_MONITOR (object);

  switch (prop_id)
    {
    case PROP_NETWORK_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case PROP_NETWORK_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case PROP_CONNECTIVITY:
      g_value_set_enum (value, self->available ? G_NETWORK_CONNECTIVITY_FULL : G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
fake_monitor_class_init (FakeMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = fake_get_property;
  g_object_class_override_property (object_class, PROP_NETWORK_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, PROP_NETWORK_METERED, "network-metered");
  g_object_class_override_property (object_class, PROP_CONNECTIVITY, "connectivity");
}

static void
fake_monitor_init (FakeMonitor *self)
{
  self->available = TRUE;
}

static void
fake_set_available (FakeMonitor *self,
                    gboolean     available)
{
  self->available = available;
  g_signal_emit_by_name (self, "network-changed", available);
}

/* ------------------------------------------------------------------ test */

typedef struct {
  NatterClient *client;
  guint closed;
  gint64 closed_at[8];          /* monotonic µs of the first CLOSED statuses */
} Watch;

static void
status_cb (NatterClient           *client,
           NatterConnectionStatus  status,
           NatterConnectionStatus  old_status,
           const GError           *error,
           Watch                  *watch)
{
  if (status == NATTER_CONNECTION_CLOSED)
    {
      if (watch->closed < G_N_ELEMENTS (watch->closed_at))
        watch->closed_at[watch->closed] = g_get_monotonic_time ();
      watch->closed++;
    }
}

static gboolean
is_connected (gpointer data)
{
  return natter_client_get_status (((Watch *) data)->client) == NATTER_CONNECTION_CONNECTED;
}

static gboolean
closed_four_times (gpointer data)
{
  return ((Watch *) data)->closed >= 4;
}

static void
test_network_back (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autoptr(NatterClient) client = NULL;
  GNetworkMonitor *monitor = g_network_monitor_get_default ();
  Watch watch = { 0 };
  gint64 start;

  g_assert_true (FAKE_IS_MONITOR (monitor));

  client = natter_client_new (natter_test_server_get_url (server), natter_test_server_get_app_key (server),
                              NULL);
  watch.client = client;
  g_signal_connect (client, "status-changed", G_CALLBACK (status_cb), &watch);
  natter_client_connect (client, token);
  test_wait_until (is_connected, &watch, 20, "connected");

  /* The server goes; a few failed retries grow the backoff past 4 s. */
  natter_test_server_stop (server);
  test_wait_until (closed_four_times, &watch, 30, "four failed attempts");
  natter_test_server_restart (server);

  /* The waits grew: 0.5–1 s after the loss, then 1–2 s, then 2–4 s. */
  g_assert_cmpint (watch.closed_at[1] - watch.closed_at[0], <, 1500 * 1000);
  g_assert_cmpint (watch.closed_at[3] - watch.closed_at[2], >=, 1900 * 1000);

  /* The network "comes back": the client tries at once. */
  start = g_get_monotonic_time ();
  fake_set_available (FAKE_MONITOR (monitor), FALSE);
  fake_set_available (FAKE_MONITOR (monitor), TRUE);
  test_wait_until (is_connected, &watch, 20, "connected again");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);

  natter_client_disconnect (client);
}


static gboolean
is_unavailable (gpointer data)
{
  return natter_client_get_status (((Watch *) data)->client) == NATTER_CONNECTION_NETWORK_UNAVAILABLE;
}

static void
test_network_unavailable (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autofree char *url = NULL;
  g_autoptr(NatterClient) client = NULL;
  FakeMonitor *monitor = FAKE_MONITOR (g_network_monitor_get_default ());
  Watch watch = { 0 };

  /* Still 127.0.0.1, written so that the client does not recognise it as
   * loopback (which it never considers unreachable). */
  url = g_strdup_printf ("http://[::ffff:127.0.0.1]:%u", natter_test_server_get_port (server));
  client = natter_client_new (url, natter_test_server_get_app_key (server), NULL);
  watch.client = client;
  g_signal_connect (client, "status-changed", G_CALLBACK (status_cb), &watch);

  /* Offline: it says so and does not try. */
  fake_set_available (monitor, FALSE);
  natter_client_connect (client, token);
  g_assert_cmpint (natter_client_get_status (client), ==, NATTER_CONNECTION_NETWORK_UNAVAILABLE);
  test_spin (1500);
  g_assert_cmpint (natter_client_get_status (client), ==, NATTER_CONNECTION_NETWORK_UNAVAILABLE);

  fake_set_available (monitor, TRUE);
  test_wait_until (is_connected, &watch, 20, "connected when the network came");

  /* A live connection is kept while the monitor doubts it... */
  fake_set_available (monitor, FALSE);
  test_spin (300);
  g_assert_cmpint (natter_client_get_status (client), ==, NATTER_CONNECTION_CONNECTED);

  /* ... but once it drops, the client waits for the network, not a timer. */
  natter_test_server_stop (server);
  test_wait_until (is_unavailable, &watch, 20, "network unavailable");
  g_assert_cmpuint (watch.closed, ==, 0);
  natter_test_server_restart (server);
  test_spin (1500);
  g_assert_cmpint (natter_client_get_status (client), ==, NATTER_CONNECTION_NETWORK_UNAVAILABLE);
  fake_set_available (monitor, TRUE);
  test_wait_until (is_connected, &watch, 20, "connected again");

  natter_client_disconnect (client);
}

/* 1 s doubling to a 30 s cap, each wait drawn from the upper half, so
 * clients dropped together spread out. */
static void
test_backoff (void)
{
  for (guint attempt = 0; attempt < 12; attempt++)
    {
      guint full = MIN (1000u << MIN (attempt, 5u), 30000u);
      guint low = G_MAXUINT, high = 0;
      g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

      for (guint i = 0; i < 200; i++)
        {
          guint delay = natter_client_reconnect_delay_ms (attempt);

          g_assert_cmpuint (delay, >=, full / 2);
          g_assert_cmpuint (delay, <=, full);
          g_assert_cmpuint (delay, <=, 30000);
          low = MIN (low, delay);
          high = MAX (high, delay);
          g_hash_table_add (seen, GUINT_TO_POINTER (delay));
        }
      /* Jitter: spread over most of the range, not one value. */
      g_assert_cmpuint (g_hash_table_size (seen), >, 50);
      g_assert_cmpuint (high - low, >, full / 4);
    }
  g_assert_cmpuint (natter_client_reconnect_delay_ms (100), >=, 15000);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  /* Ours is the default monitor of this process (registering the point
   * first is harmless: GIO's own registration finds it). */
  g_io_extension_point_set_required_type (g_io_extension_point_register (G_NETWORK_MONITOR_EXTENSION_POINT_NAME),
                                          G_TYPE_NETWORK_MONITOR);
  g_io_extension_point_implement (G_NETWORK_MONITOR_EXTENSION_POINT_NAME, FAKE_TYPE_MONITOR, "fake", 1000);
  g_setenv ("GIO_USE_NETWORK_MONITOR", "fake", TRUE);

  g_test_add_func ("/client/backoff", test_backoff);
  g_test_add_func ("/client/network-back", test_network_back);
  g_test_add_func ("/client/network-unavailable", test_network_unavailable);

  return g_test_run ();
}
