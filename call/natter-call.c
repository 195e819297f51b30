/* natter-call.c — the call state machine
 *
 * Caller: IDLE → DIALING → (Ringing) RINGING → (Accept) ACTIVE → ENDED.
 * Callee: IDLE → INCOMING (answers Ringing) → (accept) ACTIVE → ENDED.
 * The offer travels in the invite and the answer in the accept; candidates
 * trickle as NT:VCIce once the description they belong to was sent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-call-private.h"
#include "natter-frame.h"
#include "natter-call-media.h"
#include "natter-object-names.h"

struct _NatterCall
{
  GObject              parent_instance;

  NatterCallHost      *host;            /* unowned: the host outlives its calls */
  NatterCallMedia     *media;

  char                *call_id;
  char                *self_id;
  char                *self_device_id;  /* said in Ringing, when known */
  char                *peer_id;
  GPtrArray           *ringing_devices; /* caller: the peer's devices that said Ringing */
  NatterCallMediaType  media_type;
  gboolean             outgoing;

  NatterCallState      state;
  NatterCallReason     reason;
  gint64               start_time;      /* wall clock ms */
  gint64               connected_time;
  gint64               end_time;
  gint64               start_monotonic; /* µs */
  gint64               phase_times[NATTER_CALL_N_PHASES]; /* the signalling's; the media has the others */

  char                *remote_sdp;      /* the offer, callee, until accepted */
  GPtrArray           *local_candidates;  /* JsonObject, until our SDP is sent */
  GPtrArray           *remote_candidates; /* JsonObject, until media exists */
  gboolean             media_held;      /* accepted, waiting for the host's media */
  gboolean             sdp_sent;
  gboolean             media_connected;
  gboolean             auto_accept;
  gboolean             quiet;           /* lost glare: ends without summary */

  gboolean             muted;
  gboolean             camera_enabled;
  gboolean             remote_camera_enabled;
  guint                missing;         /* NatterCallMissing, kept past the media */
};

enum {
  PROP_0,
  PROP_CALL_ID,
  PROP_PEER_ID,
  PROP_OUTGOING,
  PROP_MEDIA_TYPE,
  PROP_STATE,
  PROP_REASON,
  PROP_START_TIME,
  PROP_CONNECTED_TIME,
  PROP_DURATION,
  PROP_MUTED,
  PROP_CAMERA_ENABLED,
  PROP_REMOTE_CAMERA_ENABLED,
  PROP_REMOTE_VIDEO,
  PROP_LOCAL_VIDEO,
  PROP_MISSING_DEVICES,
  N_PROPS
};

enum {
  STATE_CHANGED,
  DEVICES_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterCall, natter_call, G_TYPE_OBJECT)

/* ------------------------------------------------------------ JSON, safely */

/* Content comes from the network: never assume a member's type. */
static const char *
json_get_string (JsonObject *object,
                 const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
json_get_int (JsonObject *object,
              const char *name,
              gint64     *value)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    *value = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    *value = (gint64) json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------ state */

static void
mark_phase (NatterCall      *self,
            NatterCallPhase  phase)
{
  if (self->phase_times[phase] == 0)
    self->phase_times[phase] = g_get_monotonic_time ();
}

static void
stop_timers (NatterCall *self)
{
  for (guint i = 0; i < NATTER_CALL_N_TIMERS; i++)
    natter_call_host_stop_timer (self->host, self, i);
}

static void
set_state (NatterCall       *self,
           NatterCallState   state,
           NatterCallReason  reason)
{
  NatterCallState old_state = self->state;
  g_autoptr(GObject) keep = NULL;

  if (state == old_state)
    return;

  /* Handlers may drop the last reference of a call that ended. */
  keep = g_object_ref (G_OBJECT (self));

  g_object_freeze_notify (G_OBJECT (self));

  self->state = state;
  g_debug ("call %s: %s → %s", self->call_id,
           natter_call_state_to_string (old_state), natter_call_state_to_string (state));

  if (state == NATTER_CALL_STATE_ACTIVE)
    {
      self->connected_time = g_get_real_time () / 1000;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED_TIME]);
    }

  if (state == NATTER_CALL_STATE_ENDED)
    {
      self->end_time = g_get_real_time () / 1000;
      self->reason = reason;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REASON]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DURATION]);
      stop_timers (self);
      if (self->media != NULL)
        natter_call_media_stop (self->media);
      g_clear_pointer (&self->remote_sdp, g_free);
      g_ptr_array_set_size (self->local_candidates, 0);
      g_ptr_array_set_size (self->remote_candidates, 0);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_thaw_notify (G_OBJECT (self));

  g_signal_emit (self, signals[STATE_CHANGED], 0, state, old_state);

  if (state == NATTER_CALL_STATE_ENDED)
    {
      g_autoptr(JsonObject) summary = self->quiet ? NULL : natter_call_build_summary (self);
      natter_call_host_ended (self->host, self, summary);
    }
}

static gboolean
is_live (NatterCall *self)
{
  return self->state != NATTER_CALL_STATE_IDLE && self->state != NATTER_CALL_STATE_ENDED;
}

static gboolean
is_before_connect (NatterCall *self)
{
  return self->state == NATTER_CALL_STATE_DIALING ||
         self->state == NATTER_CALL_STATE_RINGING ||
         self->state == NATTER_CALL_STATE_INCOMING;
}

/* -------------------------------------------------------------- messages */

static JsonObject *
new_content (NatterCall *self)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "callId", self->call_id);
  return content;
}

static void
send_content (NatterCall *self,
              const char *object_name,
              JsonObject *content)
{
  natter_call_host_send (self->host, self, object_name, content);
}

/* Sends Hangup(@reason) and ends with it. */
static void
end_locally (NatterCall       *self,
             NatterCallReason  reason)
{
  g_autoptr(JsonObject) content = new_content (self);

  json_object_set_int_member (content, "reason", reason);
  send_content (self, NATTER_OBJECT_CALL_HANGUP, content);
  set_state (self, NATTER_CALL_STATE_ENDED, reason);
}

static JsonObject *
new_candidate (guint       mline,
               const char *candidate)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "candidate", candidate);
  json_object_set_int_member (object, "sdpMLineIndex", mline);
  return object;
}

static void
send_candidate (NatterCall *self,
                JsonObject *candidate)
{
  g_autoptr(JsonObject) content = new_content (self);

  json_object_set_string_member (content, "candidate", json_get_string (candidate, "candidate"));
  json_object_set_int_member (content, "sdpMLineIndex",
                              json_object_get_int_member (candidate, "sdpMLineIndex"));
  send_content (self, NATTER_OBJECT_CALL_ICE, content);
}

static void
flush_local_candidates (NatterCall *self)
{
  g_autoptr(GPtrArray) pending = g_steal_pointer (&self->local_candidates);

  self->local_candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  for (guint i = 0; i < pending->len; i++)
    send_candidate (self, g_ptr_array_index (pending, i));
}

static void
flush_remote_candidates (NatterCall *self)
{
  g_autoptr(GPtrArray) pending = g_steal_pointer (&self->remote_candidates);

  self->remote_candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  if (self->media == NULL)
    return;
  for (guint i = 0; i < pending->len; i++)
    {
      JsonObject *candidate = g_ptr_array_index (pending, i);
      natter_call_media_add_remote_candidate (self->media,
                                              json_object_get_int_member (candidate, "sdpMLineIndex"),
                                              json_get_string (candidate, "candidate"));
    }
}

/* ------------------------------------------------------------------ media */

static void
on_media_local_description (NatterCallMedia *media,
                            const char      *type,
                            const char      *sdp,
                            NatterCall      *self)
{
  natter_call_handle_local_description (self, sdp);
}

static void
on_media_local_candidate (NatterCallMedia *media,
                          guint            mline,
                          const char      *candidate,
                          NatterCall      *self)
{
  natter_call_handle_local_candidate (self, mline, candidate);
}

static void
on_media_connected (NatterCallMedia *media,
                    NatterCall      *self)
{
  natter_call_handle_media_connected (self);
}

static void
on_media_failed (NatterCallMedia *media,
                 NatterCall      *self)
{
  natter_call_handle_media_failed (self);
}

/* The camera failed mid-call: it is off now, and the peer is told (their
 * window shows our avatar instead of black frames). */
static void
on_media_device_lost (NatterCallMedia *media,
                      guint            kind,
                      NatterCall      *self)
{
  if (kind == NATTER_CALL_DEVICE_CAMERA)
    natter_call_set_camera_enabled (self, FALSE);
}

static void
on_media_devices_changed (NatterCallMedia *media,
                          NatterCall      *self)
{
  guint missing = natter_call_media_get_missing (media);

  /* the camera of a voice call is of no concern */
  if (self->media_type != NATTER_CALL_MEDIA_VIDEO)
    missing &= ~NATTER_CALL_MISSING_CAMERA;
  if (missing != self->missing)
    {
      self->missing = missing;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MISSING_DEVICES]);
    }
  g_signal_emit (self, signals[DEVICES_CHANGED], 0);
}

/* A device broke the media beyond replacing it: 19, never "network error". */
static void
on_media_device_failed (NatterCallMedia *media,
                        NatterCall      *self)
{
  if (is_live (self))
    end_locally (self, NATTER_CALL_REASON_DEVICE_ERROR);
}

/* Asks the host for media; FALSE when it has none to give (signalling only). */
static gboolean
create_media (NatterCall *self)
{
  g_assert (self->media == NULL);

  self->media = natter_call_host_create_media (self->host, self);
  if (self->media == NULL)
    return FALSE;

  g_signal_connect_object (self->media, "local-description",
                           G_CALLBACK (on_media_local_description), self, 0);
  g_signal_connect_object (self->media, "local-candidate",
                           G_CALLBACK (on_media_local_candidate), self, 0);
  g_signal_connect_object (self->media, "connected", G_CALLBACK (on_media_connected), self, 0);
  g_signal_connect_object (self->media, "failed", G_CALLBACK (on_media_failed), self, 0);
  g_signal_connect_object (self->media, "device-lost", G_CALLBACK (on_media_device_lost), self, 0);
  g_signal_connect_object (self->media, "devices-changed", G_CALLBACK (on_media_devices_changed), self, 0);
  g_signal_connect_object (self->media, "device-failed", G_CALLBACK (on_media_device_failed), self, 0);
  natter_call_media_set_muted (self->media, self->muted);
  natter_call_media_set_camera_enabled (self->media, self->camera_enabled);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMOTE_VIDEO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_VIDEO]);
  return TRUE;
}

/* A media error before or during the call: a device or element is missing
 * (19), or the peer's SDP is not something we can use (6). */
static void
media_error (NatterCall       *self,
             NatterCallReason  reason,
             const GError     *error)
{
  g_warning ("call %s: %s", self->call_id, error->message);
  end_locally (self, reason);
}

/* ---------------------------------------------------------------- GObject */

static void
natter_call_dispose (GObject *object)
{
  NatterCall *self = NATTER_CALL (object);

  if (self->media != NULL)
    {
      natter_call_media_stop (self->media);
      g_signal_handlers_disconnect_by_data (self->media, self);
      g_clear_object (&self->media);
    }

  G_OBJECT_CLASS (natter_call_parent_class)->dispose (object);
}

static void
natter_call_finalize (GObject *object)
{
  NatterCall *self = NATTER_CALL (object);

  g_free (self->call_id);
  g_free (self->self_id);
  g_free (self->self_device_id);
  g_free (self->peer_id);
  g_ptr_array_unref (self->ringing_devices);
  g_free (self->remote_sdp);
  g_ptr_array_unref (self->local_candidates);
  g_ptr_array_unref (self->remote_candidates);

  G_OBJECT_CLASS (natter_call_parent_class)->finalize (object);
}

static void
natter_call_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  NatterCall *self = NATTER_CALL (object);

  switch (prop_id)
    {
    case PROP_CALL_ID:
      g_value_set_string (value, self->call_id);
      break;
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;
    case PROP_OUTGOING:
      g_value_set_boolean (value, self->outgoing);
      break;
    case PROP_MEDIA_TYPE:
      g_value_set_enum (value, self->media_type);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_REASON:
      g_value_set_enum (value, self->reason);
      break;
    case PROP_START_TIME:
      g_value_set_int64 (value, self->start_time);
      break;
    case PROP_CONNECTED_TIME:
      g_value_set_int64 (value, self->connected_time);
      break;
    case PROP_DURATION:
      g_value_set_int64 (value, natter_call_get_duration (self));
      break;
    case PROP_MUTED:
      g_value_set_boolean (value, self->muted);
      break;
    case PROP_CAMERA_ENABLED:
      g_value_set_boolean (value, self->camera_enabled);
      break;
    case PROP_REMOTE_CAMERA_ENABLED:
      g_value_set_boolean (value, self->remote_camera_enabled);
      break;
    case PROP_REMOTE_VIDEO:
      g_value_set_object (value, natter_call_get_remote_video (self));
      break;
    case PROP_LOCAL_VIDEO:
      g_value_set_object (value, natter_call_get_local_video (self));
      break;
    case PROP_MISSING_DEVICES:
      g_value_take_boxed (value, natter_call_get_missing_devices (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_call_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  NatterCall *self = NATTER_CALL (object);

  switch (prop_id)
    {
    case PROP_MUTED:
      natter_call_set_muted (self, g_value_get_boolean (value));
      break;
    case PROP_CAMERA_ENABLED:
      natter_call_set_camera_enabled (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_call_class_init (NatterCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = natter_call_dispose;
  object_class->finalize = natter_call_finalize;
  object_class->get_property = natter_call_get_property;
  object_class->set_property = natter_call_set_property;

  properties[PROP_CALL_ID] = g_param_spec_string ("call-id", NULL, NULL, NULL, ro);
  properties[PROP_PEER_ID] = g_param_spec_string ("peer-id", NULL, NULL, NULL, ro);
  properties[PROP_OUTGOING] = g_param_spec_boolean ("outgoing", NULL, NULL, FALSE, ro);
  properties[PROP_MEDIA_TYPE] =
    g_param_spec_enum ("media-type", NULL, NULL, NATTER_TYPE_CALL_MEDIA_TYPE,
                       NATTER_CALL_MEDIA_AUDIO, ro);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, NATTER_TYPE_CALL_STATE, NATTER_CALL_STATE_IDLE, ro);
  properties[PROP_REASON] =
    g_param_spec_enum ("reason", NULL, NULL, NATTER_TYPE_CALL_REASON, NATTER_CALL_REASON_NONE, ro);
  /* Construction time (never changes). */
  properties[PROP_START_TIME] =
    g_param_spec_int64 ("start-time", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_CONNECTED_TIME] =
    g_param_spec_int64 ("connected-time", NULL, NULL, 0, G_MAXINT64, 0, ro);
  /* Notified when the call ends; poll while active. */
  properties[PROP_DURATION] =
    g_param_spec_int64 ("duration", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_MUTED] = g_param_spec_boolean ("muted", NULL, NULL, FALSE, rw);
  properties[PROP_CAMERA_ENABLED] = g_param_spec_boolean ("camera-enabled", NULL, NULL, TRUE, rw);
  properties[PROP_REMOTE_CAMERA_ENABLED] =
    g_param_spec_boolean ("remote-camera-enabled", NULL, NULL, TRUE, ro);
  properties[PROP_REMOTE_VIDEO] =
    g_param_spec_object ("remote-video", NULL, NULL, NATTER_TYPE_VIDEO_SINK, ro);
  properties[PROP_LOCAL_VIDEO] =
    g_param_spec_object ("local-video", NULL, NULL, NATTER_TYPE_VIDEO_SINK, ro);
  /* strv: "microphone", "camera", "speaker" (natter_call_get_missing_devices()) */
  properties[PROP_MISSING_DEVICES] =
    g_param_spec_boxed ("missing-devices", NULL, NULL, G_TYPE_STRV, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Devices were plugged in or removed, or the missing ones changed. */
  signals[DEVICES_CHANGED] =
    g_signal_new ("devices-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  NATTER_TYPE_CALL_STATE, NATTER_TYPE_CALL_STATE);
}

static void
natter_call_init (NatterCall *self)
{
  /* The call exists from the user's click (or the invite's arrival), even
   * while an outgoing one waits for TURN credentials. */
  self->start_time = g_get_real_time () / 1000;
  self->start_monotonic = g_get_monotonic_time ();
  self->phase_times[NATTER_CALL_PHASE_STARTED] = self->start_monotonic;
  self->camera_enabled = TRUE;
  self->remote_camera_enabled = TRUE;
  self->local_candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->remote_candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  /* reserved, so pdata is a NULL-terminated array even while empty */
  self->ringing_devices = g_ptr_array_new_null_terminated (4, g_free, TRUE);
}

/* ------------------------------------------------------------ construction */

void
natter_call_set_self_device_id (NatterCall *self,
                                const char *device_id)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  g_free (self->self_device_id);
  self->self_device_id = g_strdup (device_id);
}

const char * const *
natter_call_get_ringing_devices (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return (const char * const *) self->ringing_devices->pdata;
}

NatterCall *
natter_call_new_outgoing (NatterCallHost      *host,
                          const char          *call_id,
                          const char          *self_id,
                          const char          *peer_id,
                          NatterCallMediaType  media_type)
{
  NatterCall *self;

  g_return_val_if_fail (NATTER_IS_CALL_HOST (host), NULL);
  g_return_val_if_fail (call_id != NULL && self_id != NULL && peer_id != NULL, NULL);
  g_return_val_if_fail (media_type == NATTER_CALL_MEDIA_AUDIO ||
                        media_type == NATTER_CALL_MEDIA_VIDEO, NULL);

  self = g_object_new (NATTER_TYPE_CALL, NULL);
  self->host = host;
  self->call_id = g_strdup (call_id);
  self->self_id = g_strdup (self_id);
  self->peer_id = g_strdup (peer_id);
  self->media_type = media_type;
  self->outgoing = TRUE;
  return self;
}

NatterCall *
natter_call_new_incoming (NatterCallHost  *host,
                          const char      *self_id,
                          const char      *peer_id,
                          JsonObject      *invite,
                          GError         **error)
{
  const char *call_id = json_get_string (invite, "callId");
  gint64 media_type = 0;
  NatterCall *self;

  g_return_val_if_fail (NATTER_IS_CALL_HOST (host), NULL);
  g_return_val_if_fail (self_id != NULL && peer_id != NULL, NULL);

  if (call_id == NULL || *call_id == '\0' || strlen (call_id) > NATTER_ID_MAX_LENGTH)
    {
      g_set_error (error, G_IO_ERROR, NATTER_CODE_INVALID_PARAMETER, "Invite without a valid callId");
      return NULL;
    }
  if (!json_get_int (invite, "mediaType", &media_type) ||
      (media_type != NATTER_CALL_MEDIA_AUDIO && media_type != NATTER_CALL_MEDIA_VIDEO))
    {
      g_set_error (error, G_IO_ERROR, NATTER_CODE_INVALID_PARAMETER, "Invite without a valid mediaType");
      return NULL;
    }

  self = g_object_new (NATTER_TYPE_CALL, NULL);
  self->host = host;
  self->call_id = g_strdup (call_id);
  self->self_id = g_strdup (self_id);
  self->peer_id = g_strdup (peer_id);
  self->media_type = media_type;
  self->outgoing = FALSE;
  self->remote_sdp = g_strdup (json_get_string (invite, "sdp"));
  return self;
}

void
natter_call_start (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  if (self->state != NATTER_CALL_STATE_IDLE)
    return;

  natter_call_host_start_timer (self->host, self, NATTER_CALL_TIMER_NO_ANSWER,
                                NATTER_CALL_NO_ANSWER_TIMEOUT_MS);

  if (self->outgoing)
    {
      g_autoptr(GError) error = NULL;

      set_state (self, NATTER_CALL_STATE_DIALING, NATTER_CALL_REASON_NONE);
      if (create_media (self) && !natter_call_media_start_offer (self->media, &error))
        media_error (self, NATTER_CALL_REASON_DEVICE_ERROR, error);
    }
  else
    {
      g_autoptr(JsonObject) ringing = new_content (self);

      /* which device rings: the caller watches that one's presence */
      if (self->self_device_id != NULL)
        json_object_set_string_member (ringing, "deviceId", self->self_device_id);
      set_state (self, NATTER_CALL_STATE_INCOMING, NATTER_CALL_REASON_NONE);
      send_content (self, NATTER_OBJECT_CALL_RINGING, ringing);
      mark_phase (self, NATTER_CALL_PHASE_RINGING);
      if (self->auto_accept)
        natter_call_accept (self);
    }
}

void
natter_call_set_auto_accept (NatterCall *self,
                             gboolean    auto_accept)
{
  g_return_if_fail (NATTER_IS_CALL (self));
  self->auto_accept = !!auto_accept;
}

/* ------------------------------------------------------------ user actions */

static void answer (NatterCall *self);

void
natter_call_accept (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  if (self->state != NATTER_CALL_STATE_INCOMING)
    return;

  mark_phase (self, NATTER_CALL_PHASE_ACCEPTED);
  natter_call_host_stop_timer (self->host, self, NATTER_CALL_TIMER_NO_ANSWER);
  set_state (self, NATTER_CALL_STATE_ACTIVE, NATTER_CALL_REASON_NONE);
  natter_call_host_start_timer (self->host, self, NATTER_CALL_TIMER_CONNECT,
                                NATTER_CALL_CONNECT_TIMEOUT_MS);

  /* Media made before the TURN credentials come would have no relay: the
   * answer waits for them (the connect timer runs meanwhile). */
  if (!natter_call_host_media_ready (self->host, self))
    {
      self->media_held = TRUE;
      return;
    }
  answer (self);
}

void
natter_call_handle_media_ready (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  if (!self->media_held)
    return;
  self->media_held = FALSE;
  if (self->state == NATTER_CALL_STATE_ACTIVE && self->media == NULL)
    answer (self);
}

/* Callee, accepted: media answers the offer (then Accept is sent). */
static void
answer (NatterCall *self)
{
  g_autoptr(GError) error = NULL;

  if (!create_media (self))
    return;  /* signalling only: the host feeds the local description */

  if (self->remote_sdp == NULL)
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The invite carried no SDP offer");
      media_error (self, NATTER_CALL_REASON_ENGINE_UNSUPPORTED, error);
      return;
    }
  if (!natter_call_media_start_answer (self->media, self->remote_sdp, &error))
    {
      media_error (self,
                   g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA)
                     ? NATTER_CALL_REASON_ENGINE_UNSUPPORTED : NATTER_CALL_REASON_DEVICE_ERROR,
                   error);
      return;
    }
  g_clear_pointer (&self->remote_sdp, g_free);
  flush_remote_candidates (self);
}

void
natter_call_reject (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  if (self->state == NATTER_CALL_STATE_INCOMING)
    end_locally (self, NATTER_CALL_REASON_REJECT);
}

void
natter_call_hangup (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  switch (self->state)
    {
    case NATTER_CALL_STATE_DIALING:
    case NATTER_CALL_STATE_RINGING:
      end_locally (self, NATTER_CALL_REASON_CANCEL);
      break;
    case NATTER_CALL_STATE_INCOMING:
      end_locally (self, NATTER_CALL_REASON_REJECT);
      break;
    case NATTER_CALL_STATE_ACTIVE:
      end_locally (self, NATTER_CALL_REASON_HANGUP);
      break;
    case NATTER_CALL_STATE_IDLE:
      set_state (self, NATTER_CALL_STATE_ENDED, NATTER_CALL_REASON_CANCEL);
      break;
    case NATTER_CALL_STATE_ENDED:
    default:
      break;
    }
}

void
natter_call_set_muted (NatterCall *self,
                       gboolean    muted)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  muted = !!muted;
  if (muted == self->muted)
    return;
  self->muted = muted;
  if (self->media != NULL)
    natter_call_media_set_muted (self->media, muted);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MUTED]);
}

const char *
natter_call_get_device (NatterCall       *self,
                        NatterCallDevice  kind)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return self->media != NULL ? natter_call_media_get_device (self->media, kind) : NULL;
}

gboolean
natter_call_set_device (NatterCall       *self,
                        NatterCallDevice  kind,
                        const char       *name)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), FALSE);

  if (self->media == NULL || !is_live (self))
    return FALSE;
  return natter_call_media_set_device (self->media, kind, name);
}

static void
on_media_device_set (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (natter_call_media_set_device_finish (NATTER_CALL_MEDIA (object), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
natter_call_set_device_async (NatterCall          *self,
                              NatterCallDevice     kind,
                              const char          *name,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_CALL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_call_set_device_async);
  if (self->media == NULL || !is_live (self))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "The call is not live");
      return;
    }
  natter_call_media_set_device_async (self->media, kind, name, cancellable, on_media_device_set,
                                      g_steal_pointer (&task));
}

gboolean
natter_call_set_device_finish (NatterCall    *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

GStrv
natter_call_get_missing_devices (NatterCall *self)
{
  g_autoptr(GStrvBuilder) names = NULL;

  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);

  names = g_strv_builder_new ();
  if (self->missing & NATTER_CALL_MISSING_MICROPHONE)
    g_strv_builder_add (names, "microphone");
  if (self->missing & NATTER_CALL_MISSING_CAMERA)
    g_strv_builder_add (names, "camera");
  if (self->missing & NATTER_CALL_MISSING_SPEAKER)
    g_strv_builder_add (names, "speaker");
  return g_strv_builder_end (names);
}

static void
announce_camera (NatterCall *self)
{
  g_autoptr(JsonObject) content = NULL;

  if (self->media_type != NATTER_CALL_MEDIA_VIDEO || !is_live (self))
    return;
  content = new_content (self);
  json_object_set_int_member (content, "mediaType",
                              self->camera_enabled ? NATTER_CALL_MEDIA_VIDEO : NATTER_CALL_MEDIA_AUDIO);
  send_content (self, NATTER_OBJECT_CALL_MODIFY_MEDIA, content);
}

void
natter_call_set_camera_enabled (NatterCall *self,
                                gboolean    enabled)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  enabled = !!enabled;
  if (enabled == self->camera_enabled)
    return;
  self->camera_enabled = enabled;

  /* The peer shows our avatar instead of black frames: told before the
   * camera closes (closing it can take a while, and the black frames must
   * not get there first), and after it opens again. */
  if (!enabled)
    announce_camera (self);
  if (self->media != NULL)
    natter_call_media_set_camera_enabled (self->media, enabled);
  if (enabled)
    announce_camera (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAMERA_ENABLED]);
}

/* ----------------------------------------------------------------- events */

static NatterCallReason
remote_reason (JsonObject *content)
{
  gint64 reason = 0;

  /* A reason we do not know (or none) still ends the call: as a hangup. */
  if (!json_get_int (content, "reason", &reason) || reason < NATTER_CALL_REASON_CANCEL ||
      reason > NATTER_CALL_REASON_OTHER_DEVICE_HANDLED)
    reason = NATTER_CALL_REASON_HANGUP;
  return reason + NATTER_CALL_REASON_REMOTE_OFFSET;
}

static void
handle_remote_accept (NatterCall *self,
                      JsonObject *content)
{
  g_autoptr(GError) error = NULL;
  const char *sdp = json_get_string (content, "sdp");

  if (self->state != NATTER_CALL_STATE_DIALING && self->state != NATTER_CALL_STATE_RINGING)
    return;

  mark_phase (self, NATTER_CALL_PHASE_ACCEPTED);
  natter_call_host_stop_timer (self->host, self, NATTER_CALL_TIMER_NO_ANSWER);
  set_state (self, NATTER_CALL_STATE_ACTIVE, NATTER_CALL_REASON_NONE);
  natter_call_host_start_timer (self->host, self, NATTER_CALL_TIMER_CONNECT,
                                NATTER_CALL_CONNECT_TIMEOUT_MS);

  if (self->media == NULL)
    return;
  if (sdp == NULL)
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The accept carried no SDP answer");
      media_error (self, NATTER_CALL_REASON_ENGINE_UNSUPPORTED, error);
    }
  else if (!natter_call_media_set_remote_answer (self->media, sdp, &error))
    media_error (self, NATTER_CALL_REASON_ENGINE_UNSUPPORTED, error);
}

static void
handle_remote_candidate (NatterCall *self,
                         JsonObject *content)
{
  const char *candidate = json_get_string (content, "candidate");
  gint64 mline = 0;

  if (candidate == NULL || !json_get_int (content, "sdpMLineIndex", &mline) ||
      mline < 0 || mline > 15)
    return;

  if (self->media != NULL)
    natter_call_media_add_remote_candidate (self->media, mline, candidate);
  else if (self->remote_candidates->len < 64)
    g_ptr_array_add (self->remote_candidates, new_candidate (mline, candidate));
}

static void
handle_remote_modify_media (NatterCall *self,
                            JsonObject *content)
{
  gint64 media_type = 0;
  gboolean enabled;

  if (self->media_type != NATTER_CALL_MEDIA_VIDEO || !json_get_int (content, "mediaType", &media_type))
    return;
  enabled = media_type == NATTER_CALL_MEDIA_VIDEO;
  if (enabled == self->remote_camera_enabled)
    return;
  self->remote_camera_enabled = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMOTE_CAMERA_ENABLED]);
}

void
natter_call_handle_message (NatterCall *self,
                            const char *sender_id,
                            const char *object_name,
                            JsonObject *content)
{
  g_return_if_fail (NATTER_IS_CALL (self));
  g_return_if_fail (sender_id != NULL && object_name != NULL);

  if (!is_live (self))
    return;

  /* Our own other device answered or declined this invite. */
  if (g_strcmp0 (sender_id, self->self_id) == 0)
    {
      if (self->state == NATTER_CALL_STATE_INCOMING &&
          (g_str_equal (object_name, NATTER_OBJECT_CALL_ACCEPT) ||
           g_str_equal (object_name, NATTER_OBJECT_CALL_HANGUP)))
        set_state (self, NATTER_CALL_STATE_ENDED, NATTER_CALL_REASON_OTHER_DEVICE_HANDLED);
      return;
    }
  if (g_strcmp0 (sender_id, self->peer_id) != 0)
    return;

  if (g_str_equal (object_name, NATTER_OBJECT_CALL_RINGING))
    {
      const char *device = json_object_get_string_member_with_default (content, "deviceId", NULL);

      /* every device of the peer rings; a bounded list of valid ids */
      if (self->outgoing && device != NULL && natter_id_is_valid (device) &&
          self->ringing_devices->len < 16 &&
          !g_ptr_array_find_with_equal_func (self->ringing_devices, device, g_str_equal, NULL))
        g_ptr_array_add (self->ringing_devices, g_strdup (device));
      mark_phase (self, NATTER_CALL_PHASE_RINGING);
      if (self->state == NATTER_CALL_STATE_DIALING)
        set_state (self, NATTER_CALL_STATE_RINGING, NATTER_CALL_REASON_NONE);
    }
  else if (g_str_equal (object_name, NATTER_OBJECT_CALL_ACCEPT))
    handle_remote_accept (self, content);
  else if (g_str_equal (object_name, NATTER_OBJECT_CALL_HANGUP))
    set_state (self, NATTER_CALL_STATE_ENDED, remote_reason (content));
  else if (g_str_equal (object_name, NATTER_OBJECT_CALL_ICE))
    handle_remote_candidate (self, content);
  else if (g_str_equal (object_name, NATTER_OBJECT_CALL_MODIFY_MEDIA))
    handle_remote_modify_media (self, content);
}

void
natter_call_handle_local_description (NatterCall *self,
                                      const char *sdp)
{
  g_autoptr(JsonObject) content = NULL;

  g_return_if_fail (NATTER_IS_CALL (self));
  g_return_if_fail (sdp != NULL);

  if (self->sdp_sent || !is_live (self))
    return;

  content = new_content (self);
  json_object_set_int_member (content, "mediaType", self->media_type);
  json_object_set_string_member (content, "sdp", sdp);

  if (self->outgoing && is_before_connect (self))
    {
      g_autoptr(JsonArray) invitees = json_array_new ();

      json_array_add_string_element (invitees, self->peer_id);
      json_object_set_array_member (content, "inviteUserIds", g_steal_pointer (&invitees));
      json_object_set_string_member (content, "extra", "");
      send_content (self, NATTER_OBJECT_CALL_INVITE, content);
      mark_phase (self, NATTER_CALL_PHASE_INVITE);
    }
  else if (!self->outgoing && self->state == NATTER_CALL_STATE_ACTIVE)
    {
      send_content (self, NATTER_OBJECT_CALL_ACCEPT, content);
      mark_phase (self, NATTER_CALL_PHASE_ANSWER_SENT);
    }
  else
    return;

  self->sdp_sent = TRUE;
  flush_local_candidates (self);
}

void
natter_call_handle_local_candidate (NatterCall *self,
                                    guint       mline,
                                    const char *candidate)
{
  g_autoptr(JsonObject) object = NULL;

  g_return_if_fail (NATTER_IS_CALL (self));
  g_return_if_fail (candidate != NULL);

  if (!is_live (self))
    return;

  object = new_candidate (mline, candidate);
  if (self->sdp_sent)
    send_candidate (self, object);
  else
    g_ptr_array_add (self->local_candidates, g_steal_pointer (&object));
}

void
natter_call_handle_media_connected (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  if (self->state != NATTER_CALL_STATE_ACTIVE || self->media_connected)
    return;
  self->media_connected = TRUE;
  natter_call_host_stop_timer (self->host, self, NATTER_CALL_TIMER_CONNECT);
}

void
natter_call_handle_media_failed (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  if (is_live (self))
    end_locally (self, NATTER_CALL_REASON_NETWORK_ERROR);
}

void
natter_call_handle_timer (NatterCall      *self,
                          NatterCallTimer  timer)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  switch (timer)
    {
    case NATTER_CALL_TIMER_NO_ANSWER:
      if (is_before_connect (self))
        end_locally (self, NATTER_CALL_REASON_NO_RESPONSE);
      break;
    case NATTER_CALL_TIMER_CONNECT:
      if (self->state == NATTER_CALL_STATE_ACTIVE && !self->media_connected)
        end_locally (self, NATTER_CALL_REASON_NETWORK_ERROR);
      break;
    case NATTER_CALL_N_TIMERS:
    default:
      g_return_if_reached ();
    }
}

void
natter_call_handle_send_failed (NatterCall *self,
                                const char *object_name)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  /* Without signalling the peer cannot reach us either. A failed Hangup
   * changes nothing: we already ended. */
  if (is_live (self))
    end_locally (self, NATTER_CALL_REASON_NETWORK_ERROR);
}

void
natter_call_refuse_busy (NatterCall *self)
{
  g_return_if_fail (NATTER_IS_CALL (self));

  /* Straight from IDLE: a busy callee does not ring first. */
  if (self->state == NATTER_CALL_STATE_IDLE && !self->outgoing)
    end_locally (self, NATTER_CALL_REASON_BUSY);
  else if (self->state == NATTER_CALL_STATE_INCOMING)
    end_locally (self, NATTER_CALL_REASON_BUSY);
}

NatterCallGlare
natter_call_resolve_glare (NatterCall *self,
                           const char *sender_id,
                           const char *other_call_id)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NATTER_CALL_GLARE_NONE);
  g_return_val_if_fail (sender_id != NULL && other_call_id != NULL, NATTER_CALL_GLARE_NONE);

  /* IDLE counts: an outgoing call may still wait for TURN credentials
   * (its invite not sent yet), the user dialled all the same. */
  if (!self->outgoing || !(is_before_connect (self) || self->state == NATTER_CALL_STATE_IDLE) ||
      g_strcmp0 (sender_id, self->peer_id) != 0 || g_strcmp0 (other_call_id, self->call_id) == 0)
    return NATTER_CALL_GLARE_NONE;

  if (strcmp (self->call_id, other_call_id) < 0)
    return NATTER_CALL_GLARE_WIN;

  /* The peer drops our invite the same way; nothing to send, no summary
   * worth keeping apart from the call that goes on. */
  self->quiet = TRUE;
  set_state (self, NATTER_CALL_STATE_ENDED, NATTER_CALL_REASON_CANCEL);
  return NATTER_CALL_GLARE_LOSE;
}

/* ---------------------------------------------------------------- getters */

JsonObject *
natter_call_build_summary (NatterCall *self)
{
  JsonObject *summary = json_object_new ();
  g_autoptr(JsonArray) members = json_array_new ();
  const char *caller = self->outgoing ? self->self_id : self->peer_id;
  const char *callee = self->outgoing ? self->peer_id : self->self_id;

  g_return_val_if_fail (NATTER_IS_CALL (self), summary);

  json_array_add_string_element (members, callee);
  json_object_set_string_member (summary, "callId", self->call_id);
  json_object_set_string_member (summary, "caller", caller);
  json_object_set_string_member (summary, "inviter", caller);
  json_object_set_int_member (summary, "mediaType", self->media_type);
  json_object_set_array_member (summary, "memberIdList", g_steal_pointer (&members));
  json_object_set_int_member (summary, "startTime", self->start_time);
  json_object_set_int_member (summary, "connectedTime", self->connected_time);
  /* Seconds, as the summary's readers (libnatter, the chat view) expect. */
  json_object_set_int_member (summary, "duration", (natter_call_get_duration (self) + 500) / 1000);
  json_object_set_int_member (summary, "status", self->reason);
  return summary;
}

const char *
natter_call_get_call_id (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return self->call_id;
}

const char *
natter_call_get_peer_id (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return self->peer_id;
}

const char *
natter_call_get_self_id (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return self->self_id;
}

gboolean
natter_call_get_outgoing (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), FALSE);
  return self->outgoing;
}

NatterCallMediaType
natter_call_get_media_type (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NATTER_CALL_MEDIA_AUDIO);
  return self->media_type;
}

NatterCallState
natter_call_get_state (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NATTER_CALL_STATE_IDLE);
  return self->state;
}

NatterCallReason
natter_call_get_reason (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NATTER_CALL_REASON_NONE);
  return self->reason;
}

gint64
natter_call_get_start_time (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), 0);
  return self->start_time;
}

gint64
natter_call_get_connected_time (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), 0);
  return self->connected_time;
}

gint64
natter_call_get_duration (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), 0);

  if (self->connected_time == 0)
    return 0;
  if (self->end_time != 0)
    return MAX (0, self->end_time - self->connected_time);
  return MAX (0, g_get_real_time () / 1000 - self->connected_time);
}

gint64
natter_call_get_setup_time (NatterCall *self)
{
  gint64 first;

  g_return_val_if_fail (NATTER_IS_CALL (self), -1);

  if (self->media == NULL || (first = natter_call_media_get_first_frame_time (self->media)) == 0)
    return -1;
  return (first - self->start_monotonic) / 1000;
}

gint64
natter_call_get_phase_time (NatterCall      *self,
                            NatterCallPhase  phase)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), 0);
  g_return_val_if_fail (phase < NATTER_CALL_N_PHASES, 0);

  if (self->phase_times[phase] != 0 || self->media == NULL)
    return self->phase_times[phase];
  return natter_call_media_get_phase_time (self->media, phase);
}

const char *
natter_call_phase_to_string (NatterCallPhase phase)
{
  static const char * const names[] = {
    "started", "pipeline", "description", "gathering-started", "invite", "ringing", "accepted",
    "answer-sent", "remote-description", "gathering-done", "ice-connected", "dtls-connected",
    "first-rtp", "first-frame",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == NATTER_CALL_N_PHASES);
  g_return_val_if_fail (phase < NATTER_CALL_N_PHASES, NULL);
  return names[phase];
}

gboolean
natter_call_get_muted (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), FALSE);
  return self->muted;
}

gboolean
natter_call_get_camera_enabled (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), FALSE);
  return self->camera_enabled;
}

gboolean
natter_call_get_remote_camera_enabled (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), FALSE);
  return self->remote_camera_enabled;
}

NatterVideoSink *
natter_call_get_remote_video (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return self->media != NULL ? natter_call_media_get_remote_video (self->media) : NULL;
}

NatterVideoSink *
natter_call_get_local_video (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), NULL);
  return self->media != NULL ? natter_call_media_get_local_video (self->media) : NULL;
}

guint64
natter_call_get_video_frames_received (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), 0);
  return self->media != NULL ? natter_call_media_get_video_frames_received (self->media) : 0;
}

guint64
natter_call_get_audio_buffers_received (NatterCall *self)
{
  g_return_val_if_fail (NATTER_IS_CALL (self), 0);
  return self->media != NULL ? natter_call_media_get_audio_buffers_received (self->media) : 0;
}
