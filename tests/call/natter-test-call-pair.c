/* natter-test-call-pair.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-devices.h"
#include "natter-object-names.h"
#include "natter-test-call-pair.h"
#include "natter-test-stack.h"
#include "natter-test-wait.h"

/* ---------------------------------------------------------- the endpoint */

static void test_endpoint_iface_init (NatterCallHostInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestEndpoint, test_endpoint, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (NATTER_TYPE_CALL_HOST, test_endpoint_iface_init))

typedef struct
{
  TestEndpoint *to;
  char         *sender;
  char         *object_name;
  JsonObject   *content;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *delivery = data;

  g_object_unref (delivery->to);
  g_free (delivery->sender);
  g_free (delivery->object_name);
  json_object_unref (delivery->content);
  g_free (delivery);
}

static gboolean
deliver (gpointer data)
{
  Delivery *delivery = data;
  TestEndpoint *to = delivery->to;

  if (g_str_equal (delivery->object_name, NATTER_OBJECT_CALL_INVITE))
    {
      g_autoptr(GError) error = NULL;

      if (to->call != NULL && natter_call_get_state (to->call) != NATTER_CALL_STATE_ENDED)
        return G_SOURCE_REMOVE;
      g_clear_object (&to->call);
      to->call = natter_call_new_incoming (NATTER_CALL_HOST (to), to->user_id, delivery->sender,
                                           delivery->content, &error);
      g_assert_no_error (error);
      natter_call_set_auto_accept (to->call, to->auto_accept);
      natter_call_start (to->call);
    }
  else if (to->call != NULL)
    natter_call_handle_message (to->call, delivery->sender, delivery->object_name, delivery->content);

  return G_SOURCE_REMOVE;
}

static void
endpoint_send (NatterCallHost *host,
               NatterCall     *call,
               const char     *object_name,
               JsonObject     *content)
{
  TestEndpoint *self = TEST_ENDPOINT (host);
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonNode) copy = NULL;
  g_autofree char *text = NULL;
  Delivery *delivery;

  if (self->offline)
    return;

  /* A copy through JSON text, as it travels. */
  json_node_set_object (node, content);
  text = json_to_string (node, FALSE);
  copy = json_from_string (text, NULL);

  delivery = g_new0 (Delivery, 1);
  delivery->to = g_object_ref (self->peer);
  delivery->sender = g_strdup (self->user_id);
  delivery->object_name = g_strdup (object_name);
  delivery->content = json_object_ref (json_node_get_object (copy));
  g_idle_add_full (G_PRIORITY_DEFAULT, deliver, delivery, delivery_free);
}

static void
media_finalized (gpointer  data,
                 GObject  *where_the_object_was)
{
  TestEndpoint *self = data;

  self->media_alive--;
  if (self->media == (NatterCallMedia *) where_the_object_was)
    self->media = NULL;
}

static NatterCallMedia *
endpoint_create_media (NatterCallHost *host,
                       NatterCall     *call)
{
  TestEndpoint *self = TEST_ENDPOINT (host);
  NatterCallMedia *media = natter_call_media_new (natter_call_get_media_type (call));

  self->media = media;
  self->media_alive++;
  g_object_weak_ref (G_OBJECT (media), media_finalized, self);
  return media;
}

static void
endpoint_ended (NatterCallHost *host,
                NatterCall     *call,
                JsonObject     *summary)
{
  TestEndpoint *self = TEST_ENDPOINT (host);

  self->ended++;
  g_clear_pointer (&self->summary, json_object_unref);
  if (summary != NULL)
    self->summary = json_object_ref (summary);
}

static void
test_endpoint_iface_init (NatterCallHostInterface *iface)
{
  iface->send = endpoint_send;
  iface->create_media = endpoint_create_media;
  iface->ended = endpoint_ended;
}

static void
test_endpoint_dispose (GObject *object)
{
  TestEndpoint *self = TEST_ENDPOINT (object);

  g_clear_object (&self->call);
  G_OBJECT_CLASS (test_endpoint_parent_class)->dispose (object);
}

static void
test_endpoint_finalize (GObject *object)
{
  TestEndpoint *self = TEST_ENDPOINT (object);

  g_free (self->user_id);
  g_clear_pointer (&self->summary, json_object_unref);
  G_OBJECT_CLASS (test_endpoint_parent_class)->finalize (object);
}

static void
test_endpoint_class_init (TestEndpointClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_endpoint_dispose;
  G_OBJECT_CLASS (klass)->finalize = test_endpoint_finalize;
}

static void
test_endpoint_init (TestEndpoint *self)
{
}

void
pair_setup (Pair          *pair,
            gconstpointer  data)
{
  natter_test_stack_allow_gst_rtpsession_race ();
  pair->alice = g_object_new (TEST_TYPE_ENDPOINT, NULL);
  pair->bob = g_object_new (TEST_TYPE_ENDPOINT, NULL);
  pair->alice->user_id = g_strdup ("alice");
  pair->bob->user_id = g_strdup ("bob");
  pair->alice->peer = pair->bob;
  pair->bob->peer = pair->alice;
}

/* Runs the main loop until nothing is pending, so no delivery or media
 * event outlives the test. */
void
drain (void)
{
  gint64 until = g_get_monotonic_time () + 200 * 1000;

  while (g_get_monotonic_time () < until)
    while (g_main_context_iteration (NULL, FALSE))
      ;
}

void
pair_teardown (Pair          *pair,
               gconstpointer  data)
{
  if (pair->alice->call != NULL)
    natter_call_hangup (pair->alice->call);
  if (pair->bob->call != NULL)
    natter_call_hangup (pair->bob->call);
  drain ();
  g_clear_object (&pair->alice->call);
  g_clear_object (&pair->bob->call);
  drain ();

  /* Every pipeline is gone once its call is. */
  g_assert_cmpuint (pair->alice->media_alive, ==, 0);
  g_assert_cmpuint (pair->bob->media_alive, ==, 0);
  g_clear_object (&pair->alice);
  g_clear_object (&pair->bob);
}

gboolean
wait_for (Pair      *pair,
          Condition  condition,
          guint      seconds)
{
  return natter_test_wait ((NatterTestCondition) condition, pair, seconds);
}

NatterCall *
dial (Pair                *pair,
      NatterCallMediaType  media_type,
      const char          *call_id)
{
  g_clear_object (&pair->alice->call);
  pair->alice->call = natter_call_new_outgoing (NATTER_CALL_HOST (pair->alice), call_id,
                                                "alice", "bob", media_type);
  natter_call_start (pair->alice->call);
  return pair->alice->call;
}

NatterCallState
state_of (TestEndpoint *endpoint)
{
  return endpoint->call != NULL ? natter_call_get_state (endpoint->call) : NATTER_CALL_STATE_IDLE;
}

gboolean
pair_remote_brightness (NatterCall *call,
                        guint64    *brightness)
{
  int width = 0, height = 0;
  gsize stride = 0;
  g_autoptr(GBytes) frame = natter_video_sink_get_frame (natter_call_get_remote_video (call),
                                                         &width, &height, &stride);
  const guint8 *data;
  guint64 sum = 0;
  int count = 0;

  if (frame == NULL)
    return FALSE;
  data = g_bytes_get_data (frame, NULL);
  for (int y = height / 4; y < height * 3 / 4; y += 8)
    for (int x = width / 4; x < width * 3 / 4; x += 8)
      {
        const guint8 *pixel = data + y * stride + x * 4;
        sum += pixel[0] + pixel[1] + pixel[2];
        count++;
      }
  *brightness = count > 0 ? sum / (count * 3) : 0;
  return count > 0;
}

/* ------------------------------------------------------- test devices */

/* A device provider of the test's own, in the process's GstDeviceMonitor
 * beside (instead of) the real ones: its devices are test sources, plugged
 * in when the test says so, announced on the monitor's bus as a real
 * provider announces them. */
#define TEST_TYPE_DEVICE (test_device_get_type ())
G_DECLARE_FINAL_TYPE (TestDevice, test_device, TEST, DEVICE, GstDevice)

struct _TestDevice
{
  GstDevice  parent_instance;
  char      *element;
  gint       buffers;  /* atomic: through the elements made of it */
};

G_DEFINE_FINAL_TYPE (TestDevice, test_device, GST_TYPE_DEVICE)

static GstPadProbeReturn
count_buffer (GstPad          *pad,
              GstPadProbeInfo *info,
              gpointer         user_data)
{
  g_atomic_int_inc (&TEST_DEVICE (user_data)->buffers);
  return GST_PAD_PROBE_OK;
}

static GstElement *
test_device_create_element (GstDevice  *device,
                            const char *name)
{
  GstElement *element = gst_parse_launch (TEST_DEVICE (device)->element, NULL);
  g_autoptr(GstPad) pad = NULL;

  if (element == NULL)
    return NULL;
  pad = gst_element_get_static_pad (element, "src");
  if (pad == NULL)
    pad = gst_element_get_static_pad (element, "sink");
  if (pad != NULL)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, g_object_ref (device), g_object_unref);
  return element;
}

static void
test_device_finalize (GObject *object)
{
  g_free (TEST_DEVICE (object)->element);
  G_OBJECT_CLASS (test_device_parent_class)->finalize (object);
}

static void
test_device_class_init (TestDeviceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_device_finalize;
  GST_DEVICE_CLASS (klass)->create_element = test_device_create_element;
}

static void
test_device_init (TestDevice *self)
{
}

#define TEST_TYPE_DEVICE_PROVIDER (test_device_provider_get_type ())
G_DECLARE_FINAL_TYPE (TestDeviceProvider, test_device_provider, TEST, DEVICE_PROVIDER, GstDeviceProvider)

struct _TestDeviceProvider
{
  GstDeviceProvider parent_instance;
};

G_DEFINE_FINAL_TYPE (TestDeviceProvider, test_device_provider, GST_TYPE_DEVICE_PROVIDER)

static GstDeviceProvider *test_provider;
static GList *plugged_in;

static gboolean
test_device_provider_start (GstDeviceProvider *provider)
{
  test_provider = provider;
  return TRUE;
}

static void
test_device_provider_class_init (TestDeviceProviderClass *klass)
{
  GST_DEVICE_PROVIDER_CLASS (klass)->start = test_device_provider_start;
  gst_device_provider_class_set_static_metadata (GST_DEVICE_PROVIDER_CLASS (klass), "Natter test devices",
                                                 "Source/Audio/Video", "Test sources as devices", "Natter");
}

static void
test_device_provider_init (TestDeviceProvider *self)
{
}

void
pair_plug_in (const char *device_class,
         const char *display_name,
         const char *element)
{
  g_autoptr(GstCaps) caps = gst_caps_from_string (g_str_has_prefix (device_class, "Video") ? "video/x-raw"
                                                                                         : "audio/x-raw");
  TestDevice *device = g_object_new (TEST_TYPE_DEVICE, "device-class", device_class,
                                     "display-name", display_name, "caps", caps, NULL);

  /* the provider starts with the process's device monitor */
  if (test_provider == NULL)
    {
      g_autoptr(GstDeviceMonitor) monitor = natter_call_devices_get_monitor ();
    }
  g_assert_nonnull (test_provider);
  device->element = g_strdup (element);
  plugged_in = g_list_prepend (plugged_in, g_object_ref (device));
  gst_device_provider_device_add (test_provider, GST_DEVICE (device));
}

guint
pair_device_buffers (const char *display_name)
{
  for (GList *l = plugged_in; l != NULL; l = l->next)
    {
      g_autofree char *name = gst_device_get_display_name (l->data);

      if (g_str_equal (name, display_name))
        return (guint) g_atomic_int_get (&TEST_DEVICE (l->data)->buffers);
    }
  return 0;
}

void
pair_unplug_all (void)
{
  for (GList *l = plugged_in; l != NULL; l = l->next)
    gst_device_provider_device_remove (test_provider, l->data);
  g_list_free_full (plugged_in, gst_object_unref);
  plugged_in = NULL;
}

/* Only the test's provider: on a machine with a camera or sound card the
 * call starts without devices all the same. */
void
pair_use_test_devices_only (void)
{
  GList *factories;

  g_assert_true (gst_device_provider_register (NULL, "natter-test-device-provider", GST_RANK_PRIMARY,
                                               TEST_TYPE_DEVICE_PROVIDER));
  factories = gst_device_provider_factory_list_get_device_providers (GST_RANK_NONE);
  for (GList *l = factories; l != NULL; l = l->next)
    if (!g_str_equal (GST_OBJECT_NAME (l->data), "natter-test-device-provider"))
      gst_plugin_feature_set_rank (l->data, GST_RANK_NONE);
  gst_plugin_feature_list_free (factories);
}
