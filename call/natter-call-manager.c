/* natter-call-manager.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-manager.h"
#include "natter-call-devices.h"
#include "natter-call-media.h"
#include "natter-call-media-options.h"
#include "natter-frame.h"
#include "natter-call-private.h"
#include "natter-object-names.h"

/* Credentials are refreshed when less than this is left of their ttl. */
#define TURN_REFRESH_MARGIN_S 60
/* A call waits at most this long for TURN credentials before it starts
 * without them. */
#define TURN_WAIT_MS 3000
/* Until a call connects, the peer's presence is asked for this often;
 * offline this many times in a row, the peer is gone (its app was killed,
 * its network went away: there is no media yet to notice it) or was never
 * there (the invite is status-only: it reaches nobody, no need to wait
 * 30 s for an answer). */
#define PRESENCE_INTERVAL_S 3
#define PRESENCE_MISSES 2

struct _NatterCallManager
{
  GObject                parent_instance;

  NatterClient          *client;
  NatterCall            *current;
  GPtrArray             *calls;          /* every call not yet ended */

  NatterTurnCredentials *turn;
  gint64                 turn_expiry;    /* monotonic µs */
  GCancellable          *turn_cancellable;
  GPtrArray             *waiting_calls;  /* calls waiting for TURN or the devices: placed, or accepted */
  guint                  turn_wait_id;
  gboolean               devices_pending; /* the device monitor starts on its thread */
  gboolean               relay_only;
  char                  *devices[3];     /* NatterCallDevice */
  guint                  presence_id;
};

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_CURRENT_CALL,
  PROP_CAMERA,
  PROP_MICROPHONE,
  PROP_SPEAKER,
  N_PROPS
};

enum {
  INCOMING_CALL,
  CALL_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void natter_call_manager_host_init (NatterCallHostInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterCallManager, natter_call_manager, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (NATTER_TYPE_CALL_HOST,
                                                      natter_call_manager_host_init))

static void
set_current (NatterCallManager *self,
             NatterCall        *call)
{
  if (g_set_object (&self->current, call))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURRENT_CALL]);
}

/* IDLE counts: an outgoing call may wait for TURN credentials there. */
static gboolean
is_live (NatterCall *call)
{
  return natter_call_get_state (call) != NATTER_CALL_STATE_ENDED;
}

/* ------------------------------------------------------------------ TURN */

static gboolean
turn_valid (NatterCallManager *self)
{
  return self->turn != NULL && g_get_monotonic_time () < self->turn_expiry;
}

static void
start_waiting_calls (NatterCallManager *self)
{
  g_autoptr(GPtrArray) calls = NULL;

  g_clear_handle_id (&self->turn_wait_id, g_source_remove);
  if (self->devices_pending)
    return;  /* on_devices_started() starts them */
  calls = g_steal_pointer (&self->waiting_calls);
  self->waiting_calls = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < calls->len; i++)
    {
      NatterCall *call = g_ptr_array_index (calls, i);

      /* placed, not started yet; or accepted, its answer held */
      if (natter_call_get_state (call) == NATTER_CALL_STATE_IDLE)
        natter_call_start (call);
      else
        natter_call_handle_media_ready (call);
    }
}

static void
on_turn_credentials (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(NatterCallManager) self = user_data;
  g_autoptr(GError) error = NULL;
  NatterTurnCredentials *turn;

  turn = natter_client_get_turn_credentials_finish (NATTER_CLIENT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->turn_cancellable);

  if (turn == NULL)
    g_message ("No TURN credentials (%s): calls use direct paths only", error->message);
  else
    {
      g_clear_pointer (&self->turn, natter_turn_credentials_free);
      self->turn = turn;
      self->turn_expiry = g_get_monotonic_time () +
                          (gint64) MAX ((gint64) turn->ttl - TURN_REFRESH_MARGIN_S, 0) * G_USEC_PER_SEC;
    }
  start_waiting_calls (self);
}

static void
fetch_turn (NatterCallManager *self)
{
  if (self->turn_cancellable != NULL || turn_valid (self) ||
      natter_client_get_status (self->client) != NATTER_CONNECTION_CONNECTED)
    return;

  self->turn_cancellable = g_cancellable_new ();
  natter_client_get_turn_credentials_async (self->client, self->turn_cancellable,
                                            on_turn_credentials, g_object_ref (self));
}

static gboolean
turn_wait_expired (gpointer user_data)
{
  NatterCallManager *self = user_data;

  self->turn_wait_id = 0;
  start_waiting_calls (self);
  return G_SOURCE_REMOVE;
}

/* A call whose media would be made now waits (TURN_WAIT_MS at most) while
 * the TURN credentials are on their way: without them it has no relay. */
static gboolean
wait_for_turn (NatterCallManager *self,
               NatterCall        *call)
{
  fetch_turn (self);
  if (self->turn_cancellable == NULL)
    return FALSE;
  if (!g_ptr_array_find (self->waiting_calls, call, NULL))
    g_ptr_array_add (self->waiting_calls, g_object_ref (call));
  if (self->turn_wait_id == 0)
    self->turn_wait_id = g_timeout_add (TURN_WAIT_MS, turn_wait_expired, self);
  return TRUE;
}

/* --------------------------------------------------------------- devices */

static void
on_devices_started (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterCallManager) self = user_data;

  natter_call_devices_start_monitor_finish (result, NULL);
  self->devices_pending = FALSE;
  /* still waiting for TURN: its answer (or time-out) starts them */
  if (self->turn_wait_id == 0)
    start_waiting_calls (self);
}

/* A call's media look their devices up: the first time, the providers
 * probe (~0.1 s, seconds with a hung sound server), on a thread while the
 * call waits, never on the main thread. */
static gboolean
wait_for_devices (NatterCallManager *self,
                  NatterCall        *call)
{
  NatterCallMediaOptions options = { 0, };
  gboolean test_sources;

  if (natter_call_devices_monitor_ready ())
    return FALSE;
  natter_call_media_options_load (&options);
  test_sources = options.test_sources;
  natter_call_media_options_clear (&options);
  if (test_sources)
    return FALSE;
  if (!g_ptr_array_find (self->waiting_calls, call, NULL))
    g_ptr_array_add (self->waiting_calls, g_object_ref (call));
  if (!self->devices_pending)
    {
      self->devices_pending = TRUE;
      natter_call_devices_start_monitor_async (NULL, on_devices_started, g_object_ref (self));
    }
  return TRUE;
}

/* Whether @call's media must wait (for TURN, the devices or both). */
static gboolean
wait_for_media (NatterCallManager *self,
                NatterCall        *call)
{
  gboolean turn = wait_for_turn (self, call);
  gboolean devices = wait_for_devices (self, call);

  return turn || devices;
}

/* -------------------------------------------------------------- presence */

#define PRESENCE_MISSES_KEY "natter-call-presence-misses"

static gboolean
before_connect (NatterCall *call)
{
  NatterCallState state = natter_call_get_state (call);

  return state == NATTER_CALL_STATE_DIALING || state == NATTER_CALL_STATE_RINGING ||
         state == NATTER_CALL_STATE_INCOMING;
}

/* One answer about the peer (the user, or the devices that ring): a few
 * misses in a row end the call. */
static void
count_presence (NatterCall *call,
                gboolean    online)
{
  int misses;

  if (!before_connect (call))
    return;
  misses = online ? 0 : GPOINTER_TO_INT (g_object_get_data (G_OBJECT (call), PRESENCE_MISSES_KEY)) + 1;
  g_object_set_data (G_OBJECT (call), PRESENCE_MISSES_KEY, GINT_TO_POINTER (misses));
  if (misses < PRESENCE_MISSES)
    return;
  g_message ("call %s: %s is offline", natter_call_get_call_id (call), natter_call_get_peer_id (call));
  if (natter_call_get_state (call) == NATTER_CALL_STATE_DIALING)
    /* never rang: nobody can answer, as when the 30 s run out */
    natter_call_handle_timer (call, NATTER_CALL_TIMER_NO_ANSWER);
  else
    /* rang, then vanished: the path to the peer failed */
    natter_call_handle_media_failed (call);
}

static void
on_presence (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GPtrArray) calls = user_data;
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;

  statuses = natter_client_get_online_status_finish (NATTER_CLIENT (source), result, &error);
  if (statuses == NULL)
    return;  /* not connected: failed sends end the call */
  for (guint i = 0; i < calls->len; i++)
    {
      NatterCall *call = g_ptr_array_index (calls, i);
      gpointer online = NULL;

      if (g_hash_table_lookup_extended (statuses, natter_call_get_peer_id (call), NULL, &online))
        count_presence (call, online != NULL);
    }
}

/* The peer's devices that ring: the call lives while one of them is
 * connected, even when the peer has other devices online. */
static void
on_ringing_devices (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterCall) call = user_data;
  g_auto(GStrv) online = NULL;
  g_autoptr(GError) error = NULL;

  online = natter_client_get_online_devices_finish (NATTER_CLIENT (source), result, &error);
  if (online != NULL)
    count_presence (call, online[0] != NULL);
}

static gboolean
presence_tick (gpointer user_data)
{
  NatterCallManager *self = user_data;
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) peers = NULL;

  if (self->calls->len == 0)
    {
      self->presence_id = 0;
      return G_SOURCE_REMOVE;
    }
  for (guint i = 0; i < self->calls->len; i++)
    {
      NatterCall *call = g_ptr_array_index (self->calls, i);

      if (!before_connect (call) || natter_client_get_status (self->client) != NATTER_CONNECTION_CONNECTED)
        continue;
      if (natter_call_get_state (call) == NATTER_CALL_STATE_RINGING &&
          natter_call_get_ringing_devices (call)[0] != NULL)
        natter_client_get_online_devices_async (self->client, natter_call_get_peer_id (call),
                                                natter_call_get_ringing_devices (call), NULL,
                                                on_ringing_devices, g_object_ref (call));
      else
        {
          g_ptr_array_add (calls, g_object_ref (call));
          g_strv_builder_add (builder, natter_call_get_peer_id (call));
        }
    }
  if (calls->len == 0)
    return G_SOURCE_CONTINUE;
  peers = g_strv_builder_end (builder);
  natter_client_get_online_status_async (self->client, (const char * const *) peers, NULL,
                                         on_presence, g_steal_pointer (&calls));
  return G_SOURCE_CONTINUE;
}

/* Runs while the manager has calls. */
static void
watch_presence (NatterCallManager *self)
{
  if (self->presence_id == 0)
    self->presence_id = g_timeout_add_seconds (PRESENCE_INTERVAL_S, presence_tick, self);
}

/* ------------------------------------------------------------------ host */

typedef struct
{
  NatterCall *call;
  char       *object_name;
} SendData;

static void
send_data_free (SendData *data)
{
  g_object_unref (data->call);
  g_free (data->object_name);
  g_free (data);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  SendData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) message = NULL;

  message = natter_client_send_message_finish (NATTER_CLIENT (source), result, &error);
  if (message == NULL)
    {
      g_message ("call %s: %s not sent: %s", natter_call_get_call_id (data->call),
                 data->object_name, error->message);
      natter_call_handle_send_failed (data->call, data->object_name);
    }
  send_data_free (data);
}

static void
host_send (NatterCallHost *host,
           NatterCall     *call,
           const char     *object_name,
           JsonObject     *content)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (host);
  SendData *data = g_new0 (SendData, 1);

  data->call = g_object_ref (call);
  data->object_name = g_strdup (object_name);
  natter_client_send_message_async (self->client, NATTER_CONVERSATION_PRIVATE,
                                    natter_call_get_peer_id (call), object_name, content,
                                    NULL, on_sent, data);
}

/* GStreamer, the calls' plugins and the DTLS key come with the first call
 * (an invite, or one we start), not with the manager: an app that makes no
 * call keeps ~20 MiB and the key's CPU time from its start (#17). The
 * encoder is timed once that call has ended, not beside it. */
static void
prepare_media (void)
{
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  natter_call_media_prepare_for_call ();
}

static NatterCallMedia *
host_create_media (NatterCallHost *host,
                   NatterCall     *call)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (host);
  NatterCallMedia *media;

  prepare_media ();
  media = natter_call_media_new (natter_call_get_media_type (call));

  if (self->turn != NULL)
    for (guint i = 0; self->turn->uris != NULL && self->turn->uris[i] != NULL; i++)
      if (!natter_call_media_add_ice_server (media, self->turn->uris[i],
                                             self->turn->username, self->turn->password))
        g_message ("Ignoring ICE server %s", self->turn->uris[i]);
  if (self->relay_only)
    natter_call_media_set_relay_only (media, TRUE);
  for (guint kind = 0; kind < G_N_ELEMENTS (self->devices); kind++)
    natter_call_media_set_device (media, kind, self->devices[kind]);
  return media;
}

typedef struct
{
  NatterCallManager *self;
  NatterCall        *call;
} FinishData;

static void
on_summary_stored (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  FinishData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) message = NULL;

  message = natter_client_insert_local_message_finish (NATTER_CLIENT (source), result, &error);
  if (message == NULL)
    g_warning ("Call summary not stored: %s", error->message);
  g_signal_emit (data->self, signals[CALL_FINISHED], 0, data->call, message);
  g_object_unref (data->self);
  g_object_unref (data->call);
  g_free (data);
}

static void
host_ended (NatterCallHost *host,
            NatterCall     *call,
            JsonObject     *summary)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (host);
  gboolean outgoing = natter_call_get_outgoing (call);

  if (summary != NULL)
    {
      FinishData *data = g_new0 (FinishData, 1);

      data->self = g_object_ref (self);
      data->call = g_object_ref (call);
      natter_client_insert_local_message_async (self->client, NATTER_CONVERSATION_PRIVATE,
                                              natter_call_get_peer_id (call),
                                              outgoing ? natter_call_get_self_id (call)
                                                       : natter_call_get_peer_id (call),
                                              NATTER_OBJECT_CALL_SUMMARY, summary,
                                              outgoing ? NATTER_MESSAGE_DIRECTION_SEND
                                                       : NATTER_MESSAGE_DIRECTION_RECEIVE,
                                              natter_call_get_start_time (call),
                                              NULL, on_summary_stored, data);
    }
  else
    g_signal_emit (self, signals[CALL_FINISHED], 0, call, NULL);
  natter_call_media_probe_encoder ();

  g_ptr_array_remove (self->waiting_calls, call);
  if (self->current == call)
    set_current (self, NULL);
  g_ptr_array_remove (self->calls, call);
}

/* An incoming call accepted right after connecting (or at once, with
 * auto-accept) before the credentials came. */
static gboolean
host_media_ready (NatterCallHost *host,
                  NatterCall     *call)
{
  return !wait_for_media (NATTER_CALL_MANAGER (host), call);
}

static void
natter_call_manager_host_init (NatterCallHostInterface *iface)
{
  iface->send = host_send;
  iface->create_media = host_create_media;
  iface->media_ready = host_media_ready;
  iface->ended = host_ended;
}

/* ------------------------------------------------------------- signalling */

static NatterCall *
find_call (NatterCallManager *self,
           const char        *call_id)
{
  for (guint i = 0; i < self->calls->len; i++)
    {
      NatterCall *call = g_ptr_array_index (self->calls, i);
      if (g_strcmp0 (natter_call_get_call_id (call), call_id) == 0)
        return call;
    }
  return NULL;
}

static void
handle_invite (NatterCallManager *self,
               NatterMessage     *message,
               JsonObject        *content,
               const char        *call_id)
{
  const char *peer_id = natter_message_get_sender_user_id (message);
  const char *self_id = natter_client_get_user_id (self->client);
  g_autoptr(NatterCall) call = NULL;
  g_autoptr(GError) error = NULL;
  gboolean auto_accept = FALSE;

  if (find_call (self, call_id) != NULL)
    return;  /* a duplicate */

  call = natter_call_new_incoming (NATTER_CALL_HOST (self), self_id, peer_id, content, &error);
  if (call == NULL)
    {
      g_message ("Ignoring an invite from %s: %s", peer_id, error->message);
      return;
    }
  natter_call_set_self_device_id (call, natter_client_get_device_id (self->client));

  if (self->current != NULL && is_live (self->current))
    {
      switch (natter_call_resolve_glare (self->current, peer_id, call_id))
        {
        case NATTER_CALL_GLARE_WIN:
          return;
        case NATTER_CALL_GLARE_LOSE:
          /* We were calling them too: take their call at once. */
          auto_accept = TRUE;
          break;
        case NATTER_CALL_GLARE_NONE:
        default:
          g_ptr_array_add (self->calls, g_object_ref (call));
          natter_call_refuse_busy (call);
          return;
        }
    }

  g_ptr_array_add (self->calls, g_object_ref (call));
  set_current (self, call);
  /* while it rings */
  prepare_media ();
  fetch_turn (self);
  watch_presence (self);
  natter_call_set_auto_accept (call, auto_accept);
  natter_call_start (call);
  if (natter_call_get_state (call) != NATTER_CALL_STATE_ENDED)
    g_signal_emit (self, signals[INCOMING_CALL], 0, call);
}

static void
on_message_received (NatterClient      *client,
                     NatterMessage     *message,
                     NatterCallManager *self)
{
  const char *object_name = natter_message_get_object_name (message);
  const char *sender = natter_message_get_sender_user_id (message);
  const char *self_id = natter_client_get_user_id (client);
  JsonObject *content;
  const char *call_id;
  NatterCall *call;

  if (natter_message_get_kind (message) != NATTER_MESSAGE_KIND_CALL_SIGNAL ||
      natter_message_get_conversation_type (message) != NATTER_CONVERSATION_PRIVATE ||
      sender == NULL || self_id == NULL)
    return;

  content = natter_message_get_content (message);
  call_id = natter_message_get_call_id (message);
  if (content == NULL || call_id == NULL || *call_id == '\0')
    return;

  if (g_str_equal (object_name, NATTER_OBJECT_CALL_INVITE))
    {
      /* Our own invites reach our other devices too; old ones are stale. */
      if (g_strcmp0 (sender, self_id) != 0 && !natter_message_get_offline (message))
        handle_invite (self, message, content, call_id);
      return;
    }

  call = find_call (self, call_id);
  if (call == NULL)
    return;
  /* From our own other device: only about a call it shares with us. */
  if (g_strcmp0 (sender, self_id) == 0 &&
      g_strcmp0 (natter_message_get_target_id (message), natter_call_get_peer_id (call)) != 0)
    return;

  natter_call_handle_message (g_object_ref (call), sender, object_name, content);
  g_object_unref (call);
}

static void
on_status_changed (NatterClient           *client,
                   NatterConnectionStatus  new_status,
                   NatterConnectionStatus  old_status,
                   GError                 *error,
                   NatterCallManager      *self)
{
  if (new_status == NATTER_CONNECTION_CONNECTED)
    fetch_turn (self);
}

/* ---------------------------------------------------------------- GObject */

static void
natter_call_manager_dispose (GObject *object)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (object);

  g_cancellable_cancel (self->turn_cancellable);
  g_clear_object (&self->turn_cancellable);
  g_clear_handle_id (&self->turn_wait_id, g_source_remove);
  g_clear_handle_id (&self->presence_id, g_source_remove);
  if (self->waiting_calls != NULL)
    g_ptr_array_set_size (self->waiting_calls, 0);

  /* Hang up what is live: the peer should not ring on forever. */
  while (self->calls != NULL && self->calls->len > 0)
    {
      g_autoptr(NatterCall) call = g_object_ref (g_ptr_array_index (self->calls, 0));

      natter_call_hangup (call);
      g_ptr_array_remove (self->calls, call);
    }
  g_clear_object (&self->current);
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_call_manager_parent_class)->dispose (object);
}

static void
natter_call_manager_finalize (GObject *object)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (object);

  g_ptr_array_unref (self->calls);
  g_ptr_array_unref (self->waiting_calls);
  g_clear_pointer (&self->turn, natter_turn_credentials_free);
  for (guint i = 0; i < G_N_ELEMENTS (self->devices); i++)
    g_free (self->devices[i]);

  G_OBJECT_CLASS (natter_call_manager_parent_class)->finalize (object);
}

static void
natter_call_manager_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_CURRENT_CALL:
      g_value_set_object (value, self->current);
      break;
    case PROP_CAMERA:
    case PROP_MICROPHONE:
    case PROP_SPEAKER:
      g_value_set_string (value, self->devices[prop_id - PROP_CAMERA]);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_call_manager_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_CAMERA:
    case PROP_MICROPHONE:
    case PROP_SPEAKER:
      natter_call_manager_set_device (self, prop_id - PROP_CAMERA, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_call_manager_constructed (GObject *object)
{
  NatterCallManager *self = NATTER_CALL_MANAGER (object);

  G_OBJECT_CLASS (natter_call_manager_parent_class)->constructed (object);

  g_signal_connect_object (self->client, "message-received",
                           G_CALLBACK (on_message_received), self, 0);
  g_signal_connect_object (self->client, "status-changed",
                           G_CALLBACK (on_status_changed), self, 0);
  fetch_turn (self);
}

static void
natter_call_manager_class_init (NatterCallManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_call_manager_dispose;
  object_class->finalize = natter_call_manager_finalize;
  object_class->get_property = natter_call_manager_get_property;
  object_class->set_property = natter_call_manager_set_property;
  object_class->constructed = natter_call_manager_constructed;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CURRENT_CALL] =
    g_param_spec_object ("current-call", NULL, NULL, NATTER_TYPE_CALL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CAMERA] =
    g_param_spec_string ("camera", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MICROPHONE] =
    g_param_spec_string ("microphone", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SPEAKER] =
    g_param_spec_string ("speaker", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* A new call in INCOMING (Ringing already sent): accept or reject it. */
  signals[INCOMING_CALL] =
    g_signal_new ("incoming-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_CALL);
  /* A call ended and its RC:VCSummary is stored (the message; NULL when
   * storing failed or the call left no summary). */
  signals[CALL_FINISHED] =
    g_signal_new ("call-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, NATTER_TYPE_CALL, NATTER_TYPE_MESSAGE);
}

static void
natter_call_manager_init (NatterCallManager *self)
{
  self->calls = g_ptr_array_new_with_free_func (g_object_unref);
  self->waiting_calls = g_ptr_array_new_with_free_func (g_object_unref);
}

/* ------------------------------------------------------------------- API */

NatterCallManager *
natter_call_manager_new (NatterClient *client)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  return g_object_new (NATTER_TYPE_CALL_MANAGER, "client", client, NULL);
}

NatterClient *
natter_call_manager_get_client (NatterCallManager *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MANAGER (self), NULL);
  return self->client;
}

NatterCall *
natter_call_manager_get_current_call (NatterCallManager *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MANAGER (self), NULL);
  return self->current;
}

void
natter_call_manager_set_device (NatterCallManager *self,
                                NatterCallDevice   kind,
                                const char        *name)
{
  g_return_if_fail (NATTER_IS_CALL_MANAGER (self));
  g_return_if_fail (kind <= NATTER_CALL_DEVICE_SPEAKER);

  if (g_strcmp0 (self->devices[kind], name) == 0)
    return;
  g_free (self->devices[kind]);
  self->devices[kind] = g_strdup (name);
  if (self->current != NULL && kind != NATTER_CALL_DEVICE_SPEAKER)
    natter_call_set_device (self->current, kind, name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAMERA + kind]);
}

void
natter_call_manager_set_relay_only (NatterCallManager *self,
                                    gboolean           relay_only)
{
  g_return_if_fail (NATTER_IS_CALL_MANAGER (self));
  self->relay_only = !!relay_only;
}

NatterCall *
natter_call_manager_start_call (NatterCallManager   *self,
                                const char          *peer_id,
                                NatterCallMediaType  media_type,
                                GError             **error)
{
  const char *self_id;
  g_autofree char *call_id = NULL;
  NatterCall *call;

  g_return_val_if_fail (NATTER_IS_CALL_MANAGER (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  self_id = natter_client_get_user_id (self->client);
  if (self->current != NULL && is_live (self->current))
    {
      g_set_error (error, NATTER_CLIENT_ERROR, NATTER_CALL_ERROR_ALREADY_IN_USE,
                   "Already in a call with %s", natter_call_get_peer_id (self->current));
      return NULL;
    }
  if (natter_client_get_status (self->client) != NATTER_CONNECTION_CONNECTED || self_id == NULL)
    {
      g_set_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED, "Not connected");
      return NULL;
    }
  if (!natter_id_is_valid (peer_id) || g_str_equal (peer_id, self_id) ||
      (media_type != NATTER_CALL_MEDIA_AUDIO && media_type != NATTER_CALL_MEDIA_VIDEO))
    {
      g_set_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                   "Cannot call “%s”", peer_id);
      return NULL;
    }

  prepare_media ();
  call_id = g_uuid_string_random ();
  call = natter_call_new_outgoing (NATTER_CALL_HOST (self), call_id, self_id, peer_id, media_type);
  g_ptr_array_add (self->calls, call);
  set_current (self, call);
  watch_presence (self);

  /* The first call after connecting waits briefly for TURN. */
  if (!wait_for_media (self, call))
    natter_call_start (call);
  return call;
}
