/* natter-call-media.c — webrtcbin pipeline of one call
 *
 * Threads: webrtcbin answers promises and emits on-ice-candidate on its own
 * threads, pad probes run on streaming threads. Everything that reaches the
 * call goes through emit_on_main(), which drops it once the media stopped.
 *
 * Beside it: the devices (natter-call-devices.c), the VP8 bitrate
 * (natter-call-rate-control.c), the environment it reads
 * (natter-call-media-options.c) and the tests' faults
 * (natter-call-test-hooks.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define GST_USE_UNSTABLE_API
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <agent.h>
#include <gmodule.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>

#include "natter-call-media.h"
#include "natter-call-devices.h"
#include "natter-call-media-options.h"
#include "natter-call-nacks.h"
#include "natter-call-rate-control.h"
#include "natter-call-test-hooks.h"

/* libnice's functions, from the copy webrtcbin's ICE agent loaded: linked
 * into the app, libnice and what it pulls in (GnuTLS and p11-kit, GUPnP,
 * libxml2, ICU) were mapped and initialised at every start, before any
 * call: 5.3 MiB of RSS and ~30 libraries for the dynamic linker (#17). */
typedef struct {
  void     (*address_init)            (NiceAddress *address);
  gboolean (*address_set_from_string) (NiceAddress *address,
                                       const char  *str);
  gboolean (*agent_add_local_address) (NiceAgent   *agent,
                                       NiceAddress *address);
} NiceCalls;

static const NiceCalls *
nice_calls (void)
{
  static NiceCalls calls;
  static gsize state;   /* 1: found, 2: not */

  if (g_once_init_enter (&state))
    {
      GModule *nice = g_module_open (NATTER_LIBNICE_SONAME, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
      gboolean found = nice != NULL &&
        g_module_symbol (nice, "nice_address_init", (gpointer *) &calls.address_init) &&
        g_module_symbol (nice, "nice_address_set_from_string", (gpointer *) &calls.address_set_from_string) &&
        g_module_symbol (nice, "nice_agent_add_local_address", (gpointer *) &calls.agent_add_local_address);

      if (!found)
        g_warning ("libnice (%s): %s", NATTER_LIBNICE_SONAME, g_module_error ());
      /* the ICE agents use it for the rest of the process anyway */
      if (nice != NULL)
        g_module_make_resident (nice);
      g_once_init_leave (&state, found ? 1 : 2);
    }
  return state == 1 ? &calls : NULL;
}

#define VIDEO_PT 96
#define AUDIO_PT 97
#define JITTER_LATENCY_MS 100
#define AUDIO_BITRATE 32000
/* RTP keeps flowing while muted or with the camera off, so silence this long
 * means the peer or the path is gone (webrtcbin 1.22 has no ICE consent). */
#define MEDIA_SILENCE_TIMEOUT_S 5
/* The encoder, at every size (natter_call_media_prepare() times it at
 * 1280×720). */
#define VP8ENC "vp8enc name=vp8enc deadline=1 threads=1 cpu-used=-10 lag-in-frames=0 end-usage=cbr " \
               "error-resilient=partitions undershoot=95 buffer-size=500 buffer-initial-size=300 " \
               "buffer-optimal-size=400 max-quantizer=56"
/* 1280×720 when one such frame takes at most this much of the encoder's
 * CPU (12 % of a core at 30 fps; 640×480 costs about a third of it): the
 * call then stays within about a third of a core. */
#define HD_FRAME_BUDGET_US 4000
#define HD_PROBE_FRAMES 12
#define HD_PROBE_SKIPPED 2  /* the keyframe and the encoder's start */
/* Sound is taken 20 ms at a time, an Opus frame: the encoder waits for
 * that much anyway, and half as many buffers go along the way as with
 * 10 ms (each costs a wakeup and a push through every element). */
#define AUDIO_SAMPLES_PER_BUFFER "960"
/* What takes the place of a missing or failed microphone or camera. */
#define SILENCE_SOURCE "audiotestsrc is-live=true wave=silence samplesperbuffer=" AUDIO_SAMPLES_PER_BUFFER
#define BLACK_SOURCE "videotestsrc is-live=true pattern=black"

struct _NatterCallMedia
{
  GObject              parent_instance;

  NatterCallMediaType  media_type;
  NatterCallMediaOptions options;  /* the environment, read at creation */
  GMainContext        *context;

  GstElement          *pipeline;
  GstElement          *webrtc;
  GstElement          *volume;       /* mute */
  GstElement          *echo_probe;
  GstElement          *camera;        /* the video source and what follows it */
  GstElement          *camera_next;
  gboolean             camera_open;   /* camera is the device, not black frames */
  GstElement          *camera_pending; /* the portal's camera until its first frame (sunk) */
  guint                camera_generation; /* which pending camera an event is about */
  GstElement          *microphone;
  GstElement          *microphone_next;
  char                *devices[3];    /* preferred display names, NatterCallDevice */
  guint                opening[2];    /* camera, microphone: the device open on a worker that counts */
  NatterVideoSink     *remote_video;
  NatterVideoSink     *local_video;

  GPtrArray           *stun_servers; /* webrtcbin form */
  GPtrArray           *turn_servers;
  GPtrArray           *local_addresses;
  gboolean             relay_only;

  gboolean             started;
  gint64               start_time;     /* monotonic µs, for the debug log */
  gboolean             stopped;      /* atomic: read from other threads */
  gboolean             remote_set;
  GPtrArray           *pending_candidates; /* Candidate*, until remote_set */

  GstElement          *last_branch;    /* set by add_send_branch () */
  gboolean             muted;
  gboolean             camera_enabled; /* atomic */

  gint                 video_frames;   /* atomic */
  gint                 audio_buffers;  /* atomic */
  gint64               phase_times[NATTER_CALL_N_PHASES]; /* under lock */
  GMutex               lock;

  gboolean             connected;
  guint64              last_count;
  guint                silent_seconds;
  guint                watchdog_id;
  NatterCallRateControl *rate_control;
  gboolean             received_loss_watched;
  guint                bus_watch_id;

  /* NatterCallMissing: devices absent, refusing to open or failed, whose
   * place silence, black frames or a fakesink took. */
  guint                missing;
  gboolean             speaker_missing; /* atomic: read on pad-added */
  GstBus              *devices_bus;     /* the device monitor's */
  GstElement          *audio_output;    /* atomic: set on pad-added; the pipeline owns it */
  GstElement          *video_decoder;   /* atomic: the pipeline owns it */
  gulong               devices_handler;
};

typedef struct
{
  guint  mline;
  char  *candidate;
} Candidate;

enum {
  LOCAL_DESCRIPTION,
  LOCAL_CANDIDATE,
  CONNECTED,
  FAILED,
  DEVICE_LOST,
  DEVICES_CHANGED,
  DEVICE_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterCallMedia, natter_call_media, G_TYPE_OBJECT)

static void
candidate_free (gpointer data)
{
  Candidate *candidate = data;

  g_free (candidate->candidate);
  g_free (candidate);
}

static gboolean
is_stopped (NatterCallMedia *self)
{
  return g_atomic_int_get (&self->stopped);
}

/* Any thread: the first time @phase is reached. */
static void
mark_phase (NatterCallMedia *self,
            NatterCallPhase  phase)
{
  gint64 now = g_get_monotonic_time ();
  gboolean first;

  g_mutex_lock (&self->lock);
  first = self->phase_times[phase] == 0;
  if (first)
    self->phase_times[phase] = now;
  g_mutex_unlock (&self->lock);
  if (first)
    g_debug ("%s after %" G_GINT64_FORMAT " ms", natter_call_phase_to_string (phase),
             (now - self->start_time) / 1000);
}

/* ------------------------------------------------------- to the main context */

typedef enum {
  EVENT_LOCAL_DESCRIPTION,
  EVENT_LOCAL_CANDIDATE,
  EVENT_REMOTE_SET,
  EVENT_CONNECTED,
  EVENT_FAILED,
  EVENT_DEVICES_CHANGED,
  EVENT_CAMERA_READY,   /* mline: the camera_generation */
  EVENT_CAMERA_SILENT,
} EventType;

typedef struct
{
  NatterCallMedia *self;
  EventType        type;
  guint            mline;
  char            *text;
  char            *text2;
} Event;

static void
event_free (gpointer data)
{
  Event *event = data;

  g_object_unref (event->self);
  g_free (event->text);
  g_free (event->text2);
  g_free (event);
}

static void flush_candidates (NatterCallMedia *self);
static GstElement *make_running_source (NatterCallMedia  *self,
                                        const char       *description);
static gboolean swap_source (NatterCallMedia  *self,
                             GstElement      **source,
                             GstElement       *next,
                             GstElement       *replacement);
static void open_device (NatterCallMedia  *self,
                         NatterCallDevice  kind,
                         GTask            *task);
static void on_devices_changed (NatterCallMedia *self,
                                int              added_kind);
static void switch_speaker (NatterCallMedia *self);
static void camera_waited (NatterCallMedia *self,
                           gboolean         ready);

static gboolean
dispatch_event (gpointer data)
{
  Event *event = data;
  NatterCallMedia *self = event->self;

  if (is_stopped (self))
    return G_SOURCE_REMOVE;

  switch (event->type)
    {
    case EVENT_LOCAL_DESCRIPTION:
      g_signal_emit (self, signals[LOCAL_DESCRIPTION], 0, event->text, event->text2);
      break;
    case EVENT_LOCAL_CANDIDATE:
      g_signal_emit (self, signals[LOCAL_CANDIDATE], 0, event->mline, event->text);
      break;
    case EVENT_REMOTE_SET:
      self->remote_set = TRUE;
      flush_candidates (self);
      break;
    case EVENT_CONNECTED:
      if (!self->connected)
        {
          self->connected = TRUE;
          g_signal_emit (self, signals[CONNECTED], 0);
        }
      break;
    case EVENT_FAILED:
      g_signal_emit (self, signals[FAILED], 0);
      break;
    case EVENT_DEVICES_CHANGED:
      on_devices_changed (self, (int) event->mline - 1);
      break;
    case EVENT_CAMERA_READY:
    case EVENT_CAMERA_SILENT:
      if (event->mline == self->camera_generation && self->camera_pending != NULL)
        camera_waited (self, event->type == EVENT_CAMERA_READY);
      break;
    default:
      g_assert_not_reached ();
    }

  return G_SOURCE_REMOVE;
}

/* Any thread. Takes @text and @text2. */
static void
emit_on_main (NatterCallMedia *self,
              EventType        type,
              guint            mline,
              char            *text,
              char            *text2)
{
  Event *event = g_new0 (Event, 1);

  event->self = g_object_ref (self);
  event->type = type;
  event->mline = mline;
  event->text = text;
  event->text2 = text2;
  /* Always through a source: g_main_context_invoke() would run it right
   * here on a streaming thread whenever that thread can acquire the
   * context (its owner between iterations), racing the main thread. */
  {
    GSource *source = g_idle_source_new ();

    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, dispatch_event, event, event_free);
    g_source_set_static_name (source, "[natter] call media event");
    g_source_attach (source, self->context);
    g_source_unref (source);
  }
}

/* ------------------------------------------------------------ negotiation */

static void
on_offer_created (GstPromise *promise,
                  gpointer    user_data)
{
  NatterCallMedia *self = user_data;
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *offer = NULL;

  if (reply != NULL)
    gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, NULL);
  gst_promise_unref (promise);

  if (is_stopped (self))
    {
      g_clear_pointer (&offer, gst_webrtc_session_description_free);
      return;
    }
  if (offer == NULL)
    {
      g_warning ("webrtcbin created no offer");
      emit_on_main (self, EVENT_FAILED, 0, NULL, NULL);
      return;
    }

  mark_phase (self, NATTER_CALL_PHASE_DESCRIPTION);
  g_signal_emit_by_name (self->webrtc, "set-local-description", offer, NULL);
  emit_on_main (self, EVENT_LOCAL_DESCRIPTION, 0, g_strdup ("offer"),
                gst_sdp_message_as_text (offer->sdp));
  if (self->options.debug_sdp)
    {
      g_autofree char *text = gst_sdp_message_as_text (offer->sdp);
      g_printerr ("offer:\n%s", text);
    }
  gst_webrtc_session_description_free (offer);
}

static void
on_answer_created (GstPromise *promise,
                   gpointer    user_data)
{
  NatterCallMedia *self = user_data;
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *answer = NULL;

  if (reply != NULL)
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
  gst_promise_unref (promise);

  if (is_stopped (self))
    {
      g_clear_pointer (&answer, gst_webrtc_session_description_free);
      return;
    }
  if (answer == NULL)
    {
      g_warning ("webrtcbin created no answer");
      emit_on_main (self, EVENT_FAILED, 0, NULL, NULL);
      return;
    }

  mark_phase (self, NATTER_CALL_PHASE_DESCRIPTION);
  g_signal_emit_by_name (self->webrtc, "set-local-description", answer, NULL);
  emit_on_main (self, EVENT_LOCAL_DESCRIPTION, 0, g_strdup ("answer"),
                gst_sdp_message_as_text (answer->sdp));
  if (self->options.debug_sdp)
    {
      g_autofree char *text = gst_sdp_message_as_text (answer->sdp);
      g_printerr ("answer:\n%s", text);
    }
  gst_webrtc_session_description_free (answer);
}

/* The remote offer is set: answer it. */
static void
on_offer_set (GstPromise *promise,
              gpointer    user_data)
{
  NatterCallMedia *self = user_data;

  gst_promise_unref (promise);
  if (is_stopped (self))
    return;

  mark_phase (self, NATTER_CALL_PHASE_REMOTE_DESCRIPTION);
  emit_on_main (self, EVENT_REMOTE_SET, 0, NULL, NULL);
  g_signal_emit_by_name (self->webrtc, "create-answer", NULL,
                         gst_promise_new_with_change_func (on_answer_created, self, NULL));
}

static void
on_answer_set (GstPromise *promise,
               gpointer    user_data)
{
  NatterCallMedia *self = user_data;

  gst_promise_unref (promise);
  if (is_stopped (self))
    return;
  mark_phase (self, NATTER_CALL_PHASE_REMOTE_DESCRIPTION);
  emit_on_main (self, EVENT_REMOTE_SET, 0, NULL, NULL);
}

static void
on_ice_candidate (GstElement *webrtc,
                  guint       mline,
                  const char *candidate,
                  gpointer    user_data)
{
  NatterCallMedia *self = user_data;

  if (candidate == NULL || *candidate == '\0' || is_stopped (self))
    return;
  mark_phase (self, NATTER_CALL_PHASE_GATHERING_STARTED);
  emit_on_main (self, EVENT_LOCAL_CANDIDATE, mline, g_strdup (candidate), NULL);
}

static void
on_ice_connection_state (GObject    *webrtc,
                         GParamSpec *pspec,
                         gpointer    user_data)
{
  NatterCallMedia *self = user_data;
  GstWebRTCICEConnectionState state;

  g_object_get (webrtc, "ice-connection-state", &state, NULL);
  g_debug ("ICE connection state %d after %" G_GINT64_FORMAT " ms", state,
           (g_get_monotonic_time () - self->start_time) / 1000);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
      state == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED)
    mark_phase (self, NATTER_CALL_PHASE_ICE_CONNECTED);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED && !is_stopped (self))
    emit_on_main (self, EVENT_FAILED, 0, NULL, NULL);
}

static void
on_ice_gathering_state (GObject    *webrtc,
                        GParamSpec *pspec,
                        gpointer    user_data)
{
  GstWebRTCICEGatheringState state;

  g_object_get (webrtc, "ice-gathering-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    mark_phase (user_data, NATTER_CALL_PHASE_GATHERING_DONE);
}

/* ICE and DTLS are up: media flows from now on. */
static void
on_connection_state (GObject    *webrtc,
                     GParamSpec *pspec,
                     gpointer    user_data)
{
  NatterCallMedia *self = user_data;
  GstWebRTCPeerConnectionState state;

  g_object_get (webrtc, "connection-state", &state, NULL);
  if (state != GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    return;
  mark_phase (self, NATTER_CALL_PHASE_DTLS_CONNECTED);
}

static void
flush_candidates (NatterCallMedia *self)
{
  for (guint i = 0; i < self->pending_candidates->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (self->pending_candidates, i);
      g_signal_emit_by_name (self->webrtc, "add-ice-candidate", candidate->mline, candidate->candidate);
    }
  g_ptr_array_set_size (self->pending_candidates, 0);
}

/* ---------------------------------------------------------- remote streams */

static GstPadProbeReturn
count_video (GstPad          *pad,
             GstPadProbeInfo *info,
             gpointer         user_data)
{
  NatterCallMedia *self = user_data;

  if (g_atomic_int_add (&self->video_frames, 1) == 0)
    {
      mark_phase (self, NATTER_CALL_PHASE_FIRST_FRAME);
      emit_on_main (self, EVENT_CONNECTED, 0, NULL, NULL);
    }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_audio (GstPad          *pad,
             GstPadProbeInfo *info,
             gpointer         user_data)
{
  NatterCallMedia *self = user_data;

  if (g_atomic_int_add (&self->audio_buffers, 1) == 0)
    {
      if (self->media_type == NATTER_CALL_MEDIA_AUDIO)
        mark_phase (self, NATTER_CALL_PHASE_FIRST_FRAME);
      emit_on_main (self, EVENT_CONNECTED, 0, NULL, NULL);
    }
  return GST_PAD_PROBE_OK;
}

/* Adds @description (a bin) to the pipeline, counted, ending in @tail if
 * not NULL: NULL when it cannot be built. */
static GstElement *
add_decoder (NatterCallMedia     *self,
             const char          *description,
             GstPadProbeCallback  counter,
             GstElement          *tail)
{
  g_autoptr(GError) error = NULL;
  GstElement *bin = gst_parse_bin_from_description (description, TRUE, &error);
  g_autoptr(GstPad) bin_src = NULL;

  if (bin == NULL)
    {
      g_warning ("Cannot build the decoder: %s", error->message);
      return NULL;
    }

  gst_bin_add (GST_BIN (self->pipeline), bin);
  bin_src = gst_element_get_static_pad (bin, "src");
  gst_pad_add_probe (bin_src, GST_PAD_PROBE_TYPE_BUFFER, counter, self, NULL);
  if (tail != NULL && !gst_element_link (bin, tail))
    g_warning ("Cannot link the decoder");
  gst_element_sync_state_with_parent (bin);
  return bin;
}

/* The remote stream @src into @decoder. */
static gboolean
link_decoder (GstPad     *src,
              GstElement *decoder)
{
  g_autoptr(GstPad) sink = decoder != NULL ? gst_element_get_static_pad (decoder, "sink") : NULL;

  if (sink == NULL || gst_pad_link (src, sink) != GST_PAD_LINK_OK)
    {
      g_warning ("Cannot link the remote stream");
      return FALSE;
    }
  return TRUE;
}

/* I420 as decoded into NatterVideoSink, which converts only what is shown.
 * Decoded on a thread of its own: on the jitterbuffer's, a loaded machine
 * made packets late there and frames were lost (10 against 27 a second in
 * natter-call-bench at load 20), for no CPU measurably saved.
 * A frame lost for good (past the NACKs) asks the sender for a keyframe
 * (a PLI) at once: without it the picture decoded from a broken reference
 * (the old picture, smears) stays until the next periodic keyframe, 10 s
 * away. Decoding goes on meanwhile: waiting for the keyframe would freeze
 * the picture for good on a path that loses one of the keyframe's many
 * packets each time. */
#define VIDEO_DECODER "queue name=decode max-size-buffers=0 max-size-time=0 max-size-bytes=0 ! " \
                      "rtpvp8depay request-keyframe=true ! vp8dec threads=1"

/* Video calls: the remote video's decoder and sink are made and started
 * while the call is negotiated, not when its first packet came (that
 * was 10–90 ms of the setup). */
static void
add_video_decoder (NatterCallMedia *self)
{
  GstElement *output = natter_video_sink_get_element (self->remote_video);
  GstElement *decoder;

  gst_bin_add (GST_BIN (self->pipeline), output);
  gst_element_sync_state_with_parent (output);
  decoder = add_decoder (self, VIDEO_DECODER, count_video, output);
  g_atomic_pointer_set (&self->video_decoder, decoder);
}

static GstElement *
make_speaker_sink (NatterCallMedia *self)
{
  GstElement *sink = NULL;

  /* No speaker: the sound is dropped at its pace, the call goes on. */
  if (self->options.test_sources || g_atomic_int_get (&self->speaker_missing))
    sink = gst_parse_launch ("fakesink sync=true async=false", NULL);
  else
    {
      sink = natter_call_device_make_element (NATTER_CALL_DEVICE_SPEAKER,
                                              self->devices[NATTER_CALL_DEVICE_SPEAKER]);
      if (sink == NULL)
        sink = gst_element_factory_make ("autoaudiosink", NULL);
    }
  if (sink == NULL)
    return NULL;
  /* A sink that waits for preroll would hold the live pipeline. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "async-handling") != NULL)
    g_object_set (sink, "async-handling", TRUE, NULL);
  else if (g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "async") != NULL)
    g_object_set (sink, "async", FALSE, NULL);
  return sink;
}

static GstElement *
make_audio_output (NatterCallMedia *self)
{
  GstElement *bin, *sink, *convert, *resample;
  g_autoptr(GstPad) pad = NULL;

  sink = make_speaker_sink (self);
  convert = gst_element_factory_make ("audioconvert", NULL);
  resample = gst_element_factory_make ("audioresample", "speaker-resample");
  if (sink == NULL || convert == NULL || resample == NULL)
    {
      g_warning ("Cannot build the audio output");
      g_clear_pointer (&sink, gst_object_unref);
      g_clear_pointer (&convert, gst_object_unref);
      g_clear_pointer (&resample, gst_object_unref);
      return NULL;
    }

  bin = gst_bin_new (NULL);
  gst_bin_add_many (GST_BIN (bin), convert, resample, sink, NULL);
  gst_element_link_many (convert, resample, sink, NULL);
  pad = gst_element_get_static_pad (convert, "sink");
  gst_element_add_pad (bin, gst_ghost_pad_new ("sink", pad));
  return bin;
}

static void
on_pad_added (GstElement *webrtc,
              GstPad     *pad,
              gpointer    user_data)
{
  NatterCallMedia *self = user_data;
  g_autoptr(GstCaps) caps = NULL;
  const GstStructure *s;
  const char *media;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC || is_stopped (self))
    return;

  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  s = gst_caps_get_structure (caps, 0);
  media = gst_structure_get_string (s, "media");

  if (g_strcmp0 (media, "video") == 0)
    {
      GstElement *decoder = g_atomic_pointer_get (&self->video_decoder);

      if (decoder == NULL || GST_PAD_IS_LINKED (pad))
        return;
      link_decoder (pad, decoder);
      /* The peer's first keyframe may have gone before we could take it
       * (vp8dec skips all up to the next one): ask for one (a PLI). */
      gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
    }
  else if (g_strcmp0 (media, "audio") == 0)
    {
      GstElement *output = make_audio_output (self);

      if (output == NULL)
        return;
      gst_bin_add (GST_BIN (self->pipeline), output);
      g_atomic_pointer_set (&self->audio_output, output);
      gst_element_link (self->echo_probe, output);
      gst_element_sync_state_with_parent (output);
      link_decoder (pad, add_decoder (self,
                                      "rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample ! "
                                      "capsfilter caps=\"audio/x-raw,rate=48000,channels=1\"",
                                      count_audio, self->echo_probe));
    }
}

static GstPadProbeReturn
first_rtp (GstPad          *pad,
           GstPadProbeInfo *info,
           gpointer         user_data)
{
  mark_phase (user_data, NATTER_CALL_PHASE_FIRST_RTP);
  return GST_PAD_PROBE_REMOVE;
}

/* Every stream we receive was negotiated with NACK (both transceivers
 * have do-nack), but webrtcbin 1.22 turns retransmission on only for the
 * jitterbuffers whose SSRC it maps to a transceiver, and on the answerer
 * it sometimes maps none (seen in about one call in four on loopback):
 * that side's losses then stayed unrepaired. Runs after webrtcbin's own
 * handler, on a streaming thread. */
static void
on_new_jitterbuffer (GstElement *rtpbin,
                     GstElement *jitterbuffer,
                     guint       session,
                     guint       ssrc,
                     gpointer    user_data)
{
  g_autoptr(GstPad) sink = gst_element_get_static_pad (jitterbuffer, "sink");

  g_object_set (jitterbuffer, "do-retransmission", TRUE, NULL);
  /* its requests become NACKs here, not in the session (1.22's NACK
   * scheduler races with new sources: natter-call-nacks.h) */
  natter_call_nacks_attach (rtpbin, session);
  /* Otherwise the first packet waits the whole latency (100 ms) in case
   * an earlier one comes: start with two in a row. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (jitterbuffer), "faststart-min-packets") != NULL)
    g_object_set (jitterbuffer, "faststart-min-packets", 2, NULL);
  if (sink != NULL)
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, first_rtp,
                       user_data, NULL);
}

/* ---------------------------------------------------------- local streams */

/* Camera off: black frames keep the stream (and the peer's watchdog) alive
 * without renegotiation. I420 after the capsfilter in front of vp8enc. */
static GstPadProbeReturn
blacken_frame (GstPad          *pad,
               GstPadProbeInfo *info,
               gpointer         user_data)
{
  NatterCallMedia *self = user_data;
  g_autoptr(GstCaps) caps = NULL;
  GstBuffer *buffer;
  GstVideoInfo video_info;
  GstVideoFrame frame;

  if (g_atomic_int_get (&self->camera_enabled))
    return GST_PAD_PROBE_OK;

  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL || !gst_video_info_from_caps (&video_info, caps))
    return GST_PAD_PROBE_OK;

  buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  if (gst_video_frame_map (&frame, &video_info, buffer, GST_MAP_WRITE))
    {
      for (guint plane = 0; plane < GST_VIDEO_FRAME_N_PLANES (&frame); plane++)
        {
          guint8 value = plane == 0 ? 16 : 128;
          guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, plane);
          int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, plane);
          int height = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, plane);
          memset (data, value, (gsize) stride * height);
        }
      gst_video_frame_unmap (&frame);
    }
  return GST_PAD_PROBE_OK;
}

static GstPad *
request_webrtc_pad (NatterCallMedia *self,
                    const char      *rtp_caps)
{
  g_autoptr(GstCaps) caps = gst_caps_from_string (rtp_caps);
  GstPadTemplate *templ = gst_element_get_pad_template (self->webrtc, "sink_%u");
  GstPad *pad = gst_element_request_pad (self->webrtc, templ, NULL, caps);
  GstWebRTCRTPTransceiver *transceiver = NULL;

  g_object_get (pad, "transceiver", &transceiver, NULL);
  g_object_set (transceiver,
                "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV,
                "codec-preferences", caps,
                "do-nack", TRUE,
                NULL);
  gst_object_unref (transceiver);
  return pad;
}

/* @upstream (in the pipeline) → @description (a bin) → a new sendrecv
 * transceiver of webrtcbin. */
static gboolean
add_send_branch (NatterCallMedia *self,
                 GstElement      *upstream,
                 const char      *description,
                 const char      *rtp_caps,
                 GError         **error)
{
  GstElement *bin = gst_parse_bin_from_description (description, TRUE, error);
  g_autoptr(GstPad) src = NULL;
  g_autoptr(GstPad) sink = NULL;

  if (bin == NULL)
    return FALSE;
  gst_bin_add (GST_BIN (self->pipeline), bin);
  if (!gst_element_link (upstream, bin))
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                   "Cannot link %s", GST_OBJECT_NAME (upstream));
      return FALSE;
    }
  self->last_branch = bin;
  src = gst_element_get_static_pad (bin, "src");
  sink = request_webrtc_pad (self, rtp_caps);
  if (gst_pad_link (src, sink) != GST_PAD_LINK_OK)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "Cannot link to webrtcbin");
      return FALSE;
    }
  return TRUE;
}

static gboolean
add_audio (NatterCallMedia *self,
           GError         **error)
{
  g_autofree char *description = NULL;
  g_autofree char *probe_name = g_strdup_printf ("natter-echo-probe-%p", (void *) self);
  GstElement *source;

  /* webrtcdsp finds its probe by name when it starts: the probe first. */
  self->echo_probe = gst_element_factory_make ("webrtcechoprobe", probe_name);
  if (self->echo_probe == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN, "webrtcechoprobe is missing");
      return FALSE;
    }
  gst_bin_add (GST_BIN (self->pipeline), self->echo_probe);

  if (self->options.test_sources)
    source = gst_parse_launch ("audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
                               "samplesperbuffer=" AUDIO_SAMPLES_PER_BUFFER, NULL);
  else
    source = natter_call_device_make_element (NATTER_CALL_DEVICE_MICROPHONE,
                                              self->devices[NATTER_CALL_DEVICE_MICROPHONE]);
  if (source == NULL)
    {
      /* No microphone (or it cannot be opened): the call goes on with
       * silence, at the same caps. */
      source = gst_parse_launch (SILENCE_SOURCE, NULL);
      self->missing |= NATTER_CALL_MISSING_MICROPHONE;
    }
  if (source == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN, "audiotestsrc is missing");
      return FALSE;
    }
  if (self->options.microphone_fails_after > 0)
    natter_call_test_hooks_fail_after (source, self->options.microphone_fails_after);
  gst_bin_add (GST_BIN (self->pipeline), source);

  description = g_strdup_printf ("audioconvert ! audioresample ! "
                                 "audio/x-raw,format=S16LE,rate=48000,channels=1 ! "
                                 "webrtcdsp probe=%s echo-cancel=true noise-suppression=true "
                                 "gain-control=true ! "
                                 "volume name=mute ! audioconvert ! "
                                 "opusenc bitrate=%d audio-type=voice inband-fec=true "
                                 "frame-size=20 ! rtpopuspay pt=%d",
                                 probe_name, AUDIO_BITRATE, AUDIO_PT);
  if (!add_send_branch (self, source, description,
                        "application/x-rtp,media=audio,encoding-name=OPUS,payload=" G_STRINGIFY (AUDIO_PT) ","
                        "clock-rate=48000,encoding-params=(string)2",
                        error))
    return FALSE;
  self->microphone = source;
  self->microphone_next = self->last_branch;

  self->volume = gst_bin_get_by_name (GST_BIN (self->pipeline), "mute");
  g_object_set (self->volume, "mute", self->muted, NULL);
  return TRUE;
}

/* The portal's camera (a PipeWire node) can take seconds to give its first
 * frame, or never give one: black frames go on meanwhile, and it takes
 * their place at its first frame (camera_waited()). */
typedef struct
{
  GWeakRef media;
  guint    generation;
} CameraWait;

static void
camera_wait_free (gpointer data)
{
  CameraWait *wait = data;

  g_weak_ref_clear (&wait->media);
  g_free (wait);
}

/* On the camera's thread. */
static void
on_camera_ready (gboolean ready,
                 gpointer data)
{
  CameraWait *wait = data;
  g_autoptr(NatterCallMedia) self = g_weak_ref_get (&wait->media);

  if (self != NULL)
    emit_on_main (self, ready ? EVENT_CAMERA_READY : EVENT_CAMERA_SILENT, wait->generation, NULL, NULL);
}

/* A camera waited for is closed (its light goes out). */
static void
drop_pending_camera (NatterCallMedia *self)
{
  self->camera_generation++;
  /* opened (READY) by natter_call_device_make_element() */
  if (self->camera_pending != NULL)
    gst_element_set_state (self->camera_pending, GST_STATE_NULL);
  gst_clear_object (&self->camera_pending);
}

/* TRUE when @camera (a new element) has no frame yet: kept aside until it
 * has. */
static gboolean
wait_for_camera (NatterCallMedia *self,
                 GstElement      *camera)
{
  CameraWait *wait = g_new0 (CameraWait, 1);

  drop_pending_camera (self);
  g_weak_ref_init (&wait->media, self);
  wait->generation = self->camera_generation;
  if (!natter_call_device_watch_first_frame (camera, on_camera_ready, wait, camera_wait_free))
    return FALSE;
  self->camera_pending = gst_object_ref_sink (camera);
  return TRUE;
}

static void
camera_waited (NatterCallMedia *self,
               gboolean         ready)
{
  g_autoptr(GstElement) camera = NULL;

  if (!ready)
    {
      /* as a camera that failed: missing, the peer sees our avatar */
      drop_pending_camera (self);
      g_message ("The camera gave no frame: black frames go on");
      self->missing |= NATTER_CALL_MISSING_CAMERA;
      g_signal_emit (self, signals[DEVICE_LOST], 0, (guint) NATTER_CALL_DEVICE_CAMERA);
      g_signal_emit (self, signals[DEVICES_CHANGED], 0);
      return;
    }
  camera = g_steal_pointer (&self->camera_pending);
  g_message ("The camera gives frames: the call uses it");
  if (!swap_source (self, &self->camera, self->camera_next, camera))
    return;
  self->camera_open = TRUE;
  if (self->missing & NATTER_CALL_MISSING_CAMERA)
    {
      self->missing &= ~NATTER_CALL_MISSING_CAMERA;
      g_signal_emit (self, signals[DEVICES_CHANGED], 0);
    }
}

/* camera → I420, scale/rate → tee → preview (local NatterVideoSink)
 *                                   └→ vp8enc → rtpvp8pay → webrtcbin */
static gboolean
add_video (NatterCallMedia *self,
           GError         **error)
{
  g_autofree char *convert = NULL;
  g_autofree char *encode = NULL;
  g_autoptr(GstElement) encoder = NULL;
  g_autoptr(GstPad) encoder_sink = NULL;
  g_autoptr(GstElement) payloader = NULL;
  g_autoptr(GstPad) payloader_src = NULL;
  GstElement *source, *scaler, *tee;
  GstElement *preview = natter_video_sink_get_element (self->local_video);
  int width = self->options.video_width;
  int height = self->options.video_height;
  int fps = self->options.video_fps;
  gboolean waiting = FALSE;

  if (!self->options.video_caps_set)
    natter_call_media_get_video_size (&width, &height, NULL);

  self->camera_open = g_atomic_int_get (&self->camera_enabled);
  if (!self->camera_open)
    source = NULL;
  else if (self->options.test_sources)
    source = gst_parse_launch ("videotestsrc is-live=true pattern=smpte horizontal-speed=4", NULL);
  else
    source = natter_call_device_make_element (NATTER_CALL_DEVICE_CAMERA,
                                              self->devices[NATTER_CALL_DEVICE_CAMERA]);
  /* The portal's camera without a frame yet: the call does not wait for
   * it, black frames go until it gives one. */
  if (source != NULL && wait_for_camera (self, source))
    {
      waiting = TRUE;
      self->camera_open = FALSE;
      source = gst_parse_launch (BLACK_SOURCE, NULL);
    }
  if (source == NULL)
    {
      /* No camera (or off from the start): the call goes on, with black frames. */
      if (!waiting && (self->camera_open || (!self->options.test_sources &&
                                             !natter_call_device_exists (NATTER_CALL_DEVICE_CAMERA))))
        self->missing |= NATTER_CALL_MISSING_CAMERA;
      source = gst_parse_launch (BLACK_SOURCE, NULL);
      self->camera_open = FALSE;
    }
  else if (!waiting && self->options.camera_fails_after > 0)
    natter_call_test_hooks_fail_after (source, self->options.camera_fails_after);

  /* A bin cannot end in bare caps: an explicit capsfilter. I420 here, once,
   * for both the encoder and the preview (a camera giving I420 or a test
   * source at this size passes through). */
  convert = g_strdup_printf ("videoconvert ! videoscale ! videorate ! capsfilter caps=\"video/x-raw,"
                             "format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1\"",
                             width, height, fps);
  scaler = gst_parse_bin_from_description (convert, TRUE, error);
  if (scaler == NULL)
    {
      gst_object_unref (source);
      return FALSE;
    }
  tee = gst_element_factory_make ("tee", NULL);
  /* The preview begins with a leaky queue of its own (NatterVideoSink): a
   * second one here was one more thread every frame went through. */
  gst_bin_add_many (GST_BIN (self->pipeline), source, scaler, tee, preview, NULL);
  if (!gst_element_link_many (source, scaler, tee, preview, NULL))
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "Cannot link the camera");
      return FALSE;
    }
  self->camera = source;
  self->camera_next = scaler;

  /* cpu-used: libvpx's VP8 realtime mode takes a positive value as a share
   * of each frame's time to fill ((16 - n) / 16: 8 was half of it) and
   * slows down to use it on a machine with time to spare; a negative one
   * is a fixed speed. -10: 20–25 % less CPU per peer than 8 (libwebrtc
   * uses -6 on desktops, -12 on ARM). */
  encode = g_strdup_printf ("queue name=encode max-size-buffers=2 leaky=downstream ! "
                            VP8ENC " target-bitrate=%d keyframe-max-dist=%d ! "
                            "rtpvp8pay name=vp8pay pt=%d mtu=1200 picture-id-mode=15-bit",
                            NATTER_CALL_VIDEO_BITRATE_START, fps * 10, VIDEO_PT);
  if (!add_send_branch (self, tee, encode,
                        "application/x-rtp,media=video,encoding-name=VP8,payload=" G_STRINGIFY (VIDEO_PT) ","
                        "clock-rate=90000,rtcp-fb-nack-pli=(boolean)true",
                        error))
    return FALSE;

  encoder = gst_bin_get_by_name (GST_BIN (self->pipeline), "vp8enc");
  encoder_sink = gst_element_get_static_pad (encoder, "sink");
  gst_pad_add_probe (encoder_sink, GST_PAD_PROBE_TYPE_BUFFER, blacken_frame, self, NULL);

  payloader = gst_bin_get_by_name (GST_BIN (self->pipeline), "vp8pay");
  payloader_src = gst_element_get_static_pad (payloader, "src");
  natter_call_rate_control_attach (self->rate_control, encoder, payloader_src);

  /* Tests: loss before the sender keeps packets for retransmission (after
   * the count: these packets were sent, the network lost them). */
  if (self->options.drop_percent > 0)
    natter_call_test_hooks_drop_packets (payloader_src, VIDEO_PT, self->options.drop_percent);
  return TRUE;
}

/* ---------------------------------------------------------- watchdog, stats */

static gboolean
watchdog_tick (gpointer user_data)
{
  NatterCallMedia *self = user_data;
  guint64 count = natter_call_media_get_video_frames_received (self) +
                  natter_call_media_get_audio_buffers_received (self);

  if (self->connected)
    {
      if (count == self->last_count)
        self->silent_seconds++;
      else
        self->silent_seconds = 0;
      self->last_count = count;
      if (self->silent_seconds == MEDIA_SILENCE_TIMEOUT_S)
        {
          g_message ("No media from the peer for %d s", MEDIA_SILENCE_TIMEOUT_S);
          g_signal_emit (self, signals[FAILED], 0);
          return G_SOURCE_CONTINUE;
        }
    }

  if (self->connected)
    natter_call_rate_control_watch_rtcp (self->rate_control, self->webrtc);
  /* Tests: loss on the way in, after the sender kept the packets: NACK
   * and RTX can repair it. */
  if (self->connected && !self->received_loss_watched)
    {
      self->received_loss_watched = TRUE;
      if (self->options.recv_drop_percent > 0)
        natter_call_test_hooks_drop_received_packets (self->webrtc, VIDEO_PT,
                                                      self->options.recv_drop_percent);
      if (self->options.new_sources)
        natter_call_test_hooks_add_new_sources (self->webrtc);
    }
  natter_call_rate_control_tick (self->rate_control);
  return G_SOURCE_CONTINUE;
}

static gboolean
comes_from (GstObject  *source,
            GstElement *element)
{
  return element != NULL &&
         (source == GST_OBJECT (element) || gst_object_has_as_ancestor (source, GST_OBJECT (element)));
}

/* A camera or microphone that fails mid-call (unplugged, taken away) does
 * not end the call: black frames or silence take its place. FALSE when
 * @source is neither. */
static gboolean
replace_failed_device (NatterCallMedia *self,
                       GstObject       *source,
                       const GError    *error)
{
  NatterCallDevice kind;
  GstElement *replacement;
  gboolean swapped;

  if (self->camera_open && comes_from (source, self->camera))
    kind = NATTER_CALL_DEVICE_CAMERA;
  else if (comes_from (source, self->microphone))
    kind = NATTER_CALL_DEVICE_MICROPHONE;
  else
    return FALSE;

  g_message ("The %s failed (%s): %s instead", kind == NATTER_CALL_DEVICE_CAMERA ? "camera" : "microphone",
             error->message, kind == NATTER_CALL_DEVICE_CAMERA ? "black frames" : "silence");
  replacement = make_running_source (self, kind == NATTER_CALL_DEVICE_CAMERA ? BLACK_SOURCE : SILENCE_SOURCE);
  if (replacement == NULL)
    return FALSE;
  if (kind == NATTER_CALL_DEVICE_CAMERA)
    {
      swapped = swap_source (self, &self->camera, self->camera_next, replacement);
      self->camera_open = FALSE;
    }
  else
    swapped = swap_source (self, &self->microphone, self->microphone_next, replacement);
  if (swapped)
    {
      self->missing |= 1u << kind;
      g_signal_emit (self, signals[DEVICE_LOST], 0, (guint) kind);
      g_signal_emit (self, signals[DEVICES_CHANGED], 0);
    }
  return swapped;
}

static gboolean
on_bus_message (GstBus     *bus,
                GstMessage *message,
                gpointer    user_data)
{
  NatterCallMedia *self = user_data;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *debug = NULL;

      gst_message_parse_error (message, &error, &debug);
      /* from a device already replaced (one that failed to start) */
      if (!gst_object_has_as_ancestor (GST_MESSAGE_SRC (message), GST_OBJECT (self->pipeline)))
        {
          g_debug ("Error from a replaced element: %s", error->message);
          return G_SOURCE_CONTINUE;
        }
      if (!is_stopped (self) && replace_failed_device (self, GST_MESSAGE_SRC (message), error))
        return G_SOURCE_CONTINUE;
      g_warning ("Call media error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (message)),
                 error->message, debug != NULL ? debug : "");
      if (is_stopped (self))
        return G_SOURCE_CONTINUE;
      /* The speaker, or what follows a microphone or camera, broke: a
       * device error, not the network's. */
      if (comes_from (GST_MESSAGE_SRC (message), g_atomic_pointer_get (&self->audio_output)) ||
          comes_from (GST_MESSAGE_SRC (message), self->microphone_next) ||
          comes_from (GST_MESSAGE_SRC (message), self->camera_next))
        g_signal_emit (self, signals[DEVICE_FAILED], 0);
      else
        g_signal_emit (self, signals[FAILED], 0);
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------- devices come, go */

/* On a device provider's thread: the media may be going away meanwhile,
 * hence the weak reference. */
static void
on_device_message (GstBus     *bus,
                   GstMessage *message,
                   gpointer    user_data)
{
  g_autoptr(NatterCallMedia) self = g_weak_ref_get (user_data);
  g_autoptr(GstDevice) device = NULL;

  if (self == NULL || is_stopped (self))
    return;
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_DEVICE_ADDED)
    {
      gst_message_parse_device_added (message, &device);
      /* the event's mline carries the kind + 1 (0: removed, or another class) */
      emit_on_main (self, EVENT_DEVICES_CHANGED, natter_call_device_get_kind (device) + 1, NULL, NULL);
    }
  else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_DEVICE_REMOVED)
    emit_on_main (self, EVENT_DEVICES_CHANGED, 0, NULL, NULL);
}

static void
weak_ref_free (gpointer data,
               GClosure *closure)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
watch_devices (NatterCallMedia *self)
{
  g_autoptr(GstDeviceMonitor) monitor = natter_call_devices_get_monitor ();
  GWeakRef *ref;

  if (monitor == NULL)
    return;
  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, self);
  self->devices_bus = gst_device_monitor_get_bus (monitor);
  self->devices_handler = g_signal_connect_data (self->devices_bus, "sync-message",
                                                 G_CALLBACK (on_device_message), ref, weak_ref_free, 0);
}

/* A microphone that was missing gets its place back as soon as one is
 * plugged in (the user plugged it in for this call); a camera waits to be
 * chosen (it shows the user's room). */
static void
on_devices_changed (NatterCallMedia *self,
                    int              added_kind)
{
  if (added_kind == NATTER_CALL_DEVICE_MICROPHONE && (self->missing & NATTER_CALL_MISSING_MICROPHONE) &&
      self->microphone != NULL)
    {
      g_message ("A microphone was plugged in: the call opens it");
      open_device (self, NATTER_CALL_DEVICE_MICROPHONE, NULL);
    }
  /* so is a speaker: the call was silent */
  if (added_kind == NATTER_CALL_DEVICE_SPEAKER && (self->missing & NATTER_CALL_MISSING_SPEAKER))
    {
      g_message ("A speaker was plugged in: the call plays to it");
      g_atomic_int_set (&self->speaker_missing, FALSE);
      self->missing &= ~NATTER_CALL_MISSING_SPEAKER;
      switch_speaker (self);
    }
  g_signal_emit (self, signals[DEVICES_CHANGED], 0);
}

typedef struct
{
  GstElement *bin;
  GstElement *sink;
} SinkSwap;

static void
sink_swap_free (gpointer data)
{
  SinkSwap *swap = data;

  gst_object_unref (swap->bin);
  gst_clear_object (&swap->sink);
  g_free (swap);
}

/* On the streaming thread, the sound held back meanwhile: the old sink
 * goes, the new one takes its place behind the same resampler. */
static GstPadProbeReturn
swap_sink_blocked (GstPad          *pad,
                   GstPadProbeInfo *info,
                   gpointer         user_data)
{
  SinkSwap *swap = user_data;
  g_autoptr(GstElement) resample = gst_pad_get_parent_element (pad);
  g_autoptr(GstPad) peer = gst_pad_get_peer (pad);
  g_autoptr(GstElement) old_sink = peer != NULL ? gst_pad_get_parent_element (peer) : NULL;

  if (old_sink != NULL)
    {
      gst_element_unlink (resample, old_sink);
      gst_element_set_state (old_sink, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (swap->bin), old_sink);
    }
  gst_bin_add (GST_BIN (swap->bin), gst_object_ref (swap->sink));
  if (!gst_element_link (resample, swap->sink))
    g_warning ("Cannot link the new speaker");
  gst_element_sync_state_with_parent (swap->sink);
  return GST_PAD_PROBE_REMOVE;
}

/* A speaker appeared or was chosen: the call's sound goes there from the
 * next buffer on (before the remote audio arrived: when it does). */
static void
switch_speaker (NatterCallMedia *self)
{
  GstElement *output = g_atomic_pointer_get (&self->audio_output);
  g_autoptr(GstElement) resample = NULL;
  g_autoptr(GstPad) pad = NULL;
  SinkSwap *swap;

  if (output == NULL || self->options.test_sources)
    return;
  resample = gst_bin_get_by_name (GST_BIN (output), "speaker-resample");
  if (resample == NULL)
    return;
  swap = g_new0 (SinkSwap, 1);
  swap->bin = gst_object_ref (output);
  swap->sink = make_speaker_sink (self);
  if (swap->sink == NULL)
    {
      sink_swap_free (swap);
      return;
    }
  gst_object_ref_sink (swap->sink);
  pad = gst_element_get_static_pad (resample, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, swap_sink_blocked, swap, sink_swap_free);
}

/* The pipeline would not start (a device that opened, then refused to
 * play): silence and black frames take every device's place, once. */
static gboolean
replace_all_devices (NatterCallMedia *self)
{
  gboolean ok = TRUE;

  gst_element_set_state (self->pipeline, GST_STATE_NULL);
  if (!(self->missing & NATTER_CALL_MISSING_MICROPHONE))
    {
      GstElement *silence = gst_parse_launch (SILENCE_SOURCE, NULL);

      ok = silence != NULL && swap_source (self, &self->microphone, self->microphone_next, silence);
      self->missing |= NATTER_CALL_MISSING_MICROPHONE;
    }
  if (ok && self->camera != NULL && self->camera_open)
    {
      GstElement *black = gst_parse_launch (BLACK_SOURCE, NULL);

      ok = black != NULL && swap_source (self, &self->camera, self->camera_next, black);
      self->camera_open = FALSE;
      self->missing |= NATTER_CALL_MISSING_CAMERA;
    }
  return ok && gst_element_set_state (self->pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

/* -------------------------------------------------------------- building */

static gboolean
build_pipeline (NatterCallMedia *self,
                GError         **error)
{
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GObject) ice = NULL;
  g_autoptr(GObject) agent = NULL;
  g_autoptr(GstElement) rtpbin = NULL;
  GSource *source;

  g_return_val_if_fail (!self->started, FALSE);
  self->started = TRUE;
  self->start_time = g_get_monotonic_time ();

  self->pipeline = gst_object_ref_sink (gst_pipeline_new ("natter-call"));
  self->webrtc = gst_element_factory_make ("webrtcbin", "webrtc");
  if (self->webrtc == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN, "webrtcbin is missing");
      return FALSE;
    }
  g_object_set (self->webrtc,
                "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE,
                "latency", JITTER_LATENCY_MS,
                NULL);
  rtpbin = gst_bin_get_by_name (GST_BIN (self->webrtc), "rtpbin");
  if (rtpbin != NULL)
    g_signal_connect (rtpbin, "new-jitterbuffer", G_CALLBACK (on_new_jitterbuffer), self);
  if (self->relay_only)
    g_object_set (self->webrtc, "ice-transport-policy", GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, NULL);
  if (self->stun_servers->len > 0)
    g_object_set (self->webrtc, "stun-server", g_ptr_array_index (self->stun_servers, 0), NULL);
  for (guint i = 0; i < self->turn_servers->len; i++)
    {
      gboolean ok = FALSE;
      g_signal_emit_by_name (self->webrtc, "add-turn-server", g_ptr_array_index (self->turn_servers, i), &ok);
      if (!ok)
        g_warning ("webrtcbin refused TURN server %u", i);
    }

  /* With only loopback (a test namespace) libnice gathers nothing unless told
   * which addresses to use; once told, it uses only those. */
  g_object_get (self->webrtc, "ice-agent", &ice, NULL);
  if (ice != NULL && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent") != NULL)
    g_object_get (ice, "agent", &agent, NULL);
  /* No UPnP port mapping: it multicasts SSDP on every interface, and the
   * TURN relay covers what it would. */
  if (agent != NULL)
    g_object_set (agent, "upnp", FALSE, NULL);
  for (guint i = 0; i < self->local_addresses->len; i++)
    {
      const NiceCalls *nice = nice_calls ();
      NiceAddress address;

      if (nice != NULL)
        nice->address_init (&address);
      if (nice == NULL || agent == NULL || !g_str_equal (G_OBJECT_TYPE_NAME (agent), "NiceAgent") ||
          !nice->address_set_from_string (&address, g_ptr_array_index (self->local_addresses, i)) ||
          !nice->agent_add_local_address ((NiceAgent *) agent, &address))
        g_warning ("Cannot gather on %s", (char *) g_ptr_array_index (self->local_addresses, i));
    }

  gst_bin_add (GST_BIN (self->pipeline), self->webrtc);
  g_signal_connect (self->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), self);
  g_signal_connect (self->webrtc, "pad-added", G_CALLBACK (on_pad_added), self);
  g_signal_connect (self->webrtc, "notify::ice-connection-state",
                    G_CALLBACK (on_ice_connection_state), self);
  g_signal_connect (self->webrtc, "notify::ice-gathering-state",
                    G_CALLBACK (on_ice_gathering_state), self);
  g_signal_connect (self->webrtc, "notify::connection-state",
                    G_CALLBACK (on_connection_state), self);

  if (!self->options.test_sources)
    {
      watch_devices (self);
      if (!natter_call_device_exists (NATTER_CALL_DEVICE_SPEAKER))
        {
          g_atomic_int_set (&self->speaker_missing, TRUE);
          self->missing |= NATTER_CALL_MISSING_SPEAKER;
        }
    }
  if (!add_audio (self, error))
    return FALSE;
  if (self->media_type == NATTER_CALL_MEDIA_VIDEO && !add_video (self, error))
    return FALSE;

  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  source = gst_bus_create_watch (bus);
  g_source_set_callback (source, (GSourceFunc) on_bus_message, self, NULL);
  self->bus_watch_id = g_source_attach (source, self->context);
  g_source_unref (source);

  source = g_timeout_source_new_seconds (1);
  g_source_set_callback (source, watchdog_tick, self, NULL);
  self->watchdog_id = g_source_attach (source, self->context);
  g_source_unref (source);

  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE &&
      (self->options.test_sources || !replace_all_devices (self)))
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE, "Cannot start the call pipeline");
      return FALSE;
    }
  if (self->missing != 0)
    g_signal_emit (self, signals[DEVICES_CHANGED], 0);
  if (self->missing != 0)
    g_message ("The call goes without%s%s%s",
               self->missing & NATTER_CALL_MISSING_MICROPHONE ? " microphone" : "",
               self->missing & NATTER_CALL_MISSING_CAMERA ? " camera" : "",
               self->missing & NATTER_CALL_MISSING_SPEAKER ? " speaker" : "");
  mark_phase (self, NATTER_CALL_PHASE_PIPELINE);
  return TRUE;
}

static GstWebRTCSessionDescription *
parse_description (GstWebRTCSDPType   type,
                   const char        *text,
                   GError           **error)
{
  GstSDPMessage *sdp = NULL;

  if (gst_sdp_message_new_from_text (text, &sdp) != GST_SDP_OK || gst_sdp_message_medias_len (sdp) == 0)
    {
      if (sdp != NULL)
        gst_sdp_message_free (sdp);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The peer's SDP is not usable");
      return NULL;
    }
  return gst_webrtc_session_description_new (type, sdp);
}

/* ---------------------------------------------------------------- GObject */

static void
natter_call_media_dispose (GObject *object)
{
  NatterCallMedia *self = NATTER_CALL_MEDIA (object);

  natter_call_media_stop (self);
  g_clear_object (&self->remote_video);
  g_clear_object (&self->local_video);

  G_OBJECT_CLASS (natter_call_media_parent_class)->dispose (object);
}

static void
natter_call_media_finalize (GObject *object)
{
  NatterCallMedia *self = NATTER_CALL_MEDIA (object);

  g_ptr_array_unref (self->stun_servers);
  g_ptr_array_unref (self->turn_servers);
  g_ptr_array_unref (self->local_addresses);
  g_ptr_array_unref (self->pending_candidates);
  natter_call_rate_control_free (self->rate_control);
  natter_call_media_options_clear (&self->options);
  for (guint i = 0; i < G_N_ELEMENTS (self->devices); i++)
    g_free (self->devices[i]);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (natter_call_media_parent_class)->finalize (object);
}

static void
natter_call_media_class_init (NatterCallMediaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_call_media_dispose;
  object_class->finalize = natter_call_media_finalize;

  /* (type "offer"/"answer", sdp) */
  signals[LOCAL_DESCRIPTION] =
    g_signal_new ("local-description", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[LOCAL_CANDIDATE] =
    g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  /* The first decoded remote media. */
  signals[CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* ICE failed, the media went silent, or the pipeline broke. */
  signals[FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* (NatterCallDevice kind) The camera or microphone failed (unplugged,
   * say): black frames or silence took its place, the call goes on. */
  signals[DEVICE_LOST] =
    g_signal_new ("device-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /* A device broke the pipeline beyond replacing it (the speaker, say):
   * the call cannot go on, for a reason that is not the network. */
  signals[DEVICE_FAILED] =
    g_signal_new ("device-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* The missing devices changed, or a device was plugged in or removed. */
  signals[DEVICES_CHANGED] =
    g_signal_new ("devices-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
natter_call_media_init (NatterCallMedia *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->camera_enabled = TRUE;
  self->stun_servers = g_ptr_array_new_with_free_func (g_free);
  self->turn_servers = g_ptr_array_new_with_free_func (g_free);
  self->local_addresses = g_ptr_array_new_with_free_func (g_free);
  self->pending_candidates = g_ptr_array_new_with_free_func (candidate_free);
  self->rate_control = natter_call_rate_control_new ();
  self->remote_video = natter_video_sink_new ();
  self->local_video = natter_video_sink_new ();

  natter_call_media_options_load (&self->options);
  if (self->options.stun_server != NULL)
    g_ptr_array_add (self->stun_servers, g_strdup (self->options.stun_server));
  if (self->options.turn_server != NULL)
    g_ptr_array_add (self->turn_servers, g_strdup (self->options.turn_server));
  for (guint i = 0; self->options.ice_addresses != NULL && self->options.ice_addresses[i] != NULL; i++)
    g_ptr_array_add (self->local_addresses, g_strdup (self->options.ice_addresses[i]));
  self->relay_only = self->options.relay_only;
}

/* ------------------------------------------------------------------ API */

/* Every element a call makes, webrtcbin's own included. Loading a plugin
 * (dlopen, its init: libsrtp tests its ciphers, ~0.1–0.4 s) and the first
 * instance of an element (its class) happened on the way to the offer or
 * the answer, half a second of the setup on a busy machine. */
static const char * const call_elements[] = {
  "webrtcbin", "rtpbin", "rtpsession", "rtpssrcdemux", "rtpjitterbuffer", "rtpptdemux",
  "rtpstorage", "rtprtxsend", "rtprtxreceive", "rtpulpfecenc", "rtpulpfecdec", "rtpredenc",
  "rtpreddec", "dtlssrtpenc", "dtlssrtpdec", "dtlssrtpdemux", "dtlsenc", "srtpenc", "srtpdec",
  "nicesrc", "nicesink", "funnel", "clocksync", "queue", "capsfilter", "tee", "fakesink",
  "appsink", "audiotestsrc", "videotestsrc", "audioconvert", "audioresample", "volume",
  "webrtcechoprobe", "webrtcdsp", "opusenc", "opusdec", "rtpopuspay", "rtpopusdepay",
  "videoconvert", "videoscale", "videorate", "vp8enc", "vp8dec", "rtpvp8pay", "rtpvp8depay",
};

static gint hd_frame_cpu_us; /* atomic: µs, 0 until measured, -1 failed */

static gint64
thread_cpu_us (void)
{
  struct timespec now;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
  return (gint64) now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
}

typedef struct
{
  gint64 entered;   /* the encoder's thread CPU time when a frame came in */
  gint64 total;
  int    frames;
} EncoderProbe;

static GstPadProbeReturn
frame_in (GstPad          *pad,
          GstPadProbeInfo *info,
          gpointer         user_data)
{
  ((EncoderProbe *) user_data)->entered = thread_cpu_us ();
  return GST_PAD_PROBE_OK;
}

/* vp8enc (lag-in-frames=0) pushes each frame out of the very call that took
 * it in, on the same thread. */
static GstPadProbeReturn
frame_out (GstPad          *pad,
           GstPadProbeInfo *info,
           gpointer         user_data)
{
  EncoderProbe *probe = user_data;

  if (probe->entered != 0 && ++probe->frames > HD_PROBE_SKIPPED)
    probe->total += thread_cpu_us () - probe->entered;
  probe->entered = 0;
  return GST_PAD_PROBE_OK;
}

/* CPU time (µs, of the encoder's thread: what the machine's load does not
 * change much) to encode a moving 1280×720 frame; -1 when it cannot. */
static gint64
measure_hd_encoder (void)
{
  g_autofree char *description =
    g_strdup_printf ("videotestsrc num-buffers=%d pattern=smpte horizontal-speed=4 ! "
                     "video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! "
                     VP8ENC " target-bitrate=%d ! fakesink sync=false",
                     HD_PROBE_FRAMES, NATTER_CALL_VIDEO_BITRATE_MAX);
  g_autoptr(GstElement) pipeline = gst_parse_launch (description, NULL);
  g_autoptr(GstElement) encoder = NULL;
  g_autoptr(GstPad) sink = NULL;
  g_autoptr(GstPad) src = NULL;
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstMessage) message = NULL;
  EncoderProbe probe = { 0, };

  if (pipeline == NULL || (encoder = gst_bin_get_by_name (GST_BIN (pipeline), "vp8enc")) == NULL)
    return -1;
  sink = gst_element_get_static_pad (encoder, "sink");
  src = gst_element_get_static_pad (encoder, "src");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, frame_in, &probe, NULL);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, frame_out, &probe, NULL);
  bus = gst_element_get_bus (pipeline);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE)
    message = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (message == NULL || GST_MESSAGE_TYPE (message) != GST_MESSAGE_EOS || probe.frames <= HD_PROBE_SKIPPED)
    return -1;
  return MAX (probe.total / (probe.frames - HD_PROBE_SKIPPED), 1);
}

static gpointer
probe_thread (gpointer data)
{
  gint64 cpu = measure_hd_encoder ();

  g_debug ("a 1280×720 frame takes the encoder %" G_GINT64_FORMAT " µs of CPU", cpu);
  g_atomic_int_set (&hd_frame_cpu_us, (gint) CLAMP (cpu, -1, G_MAXINT));
  return NULL;
}

/* dtlsdec generates the process-wide certificate when its first instance is
 * created, and keeps it (gst_dtls_dec_init → get_agent_by_pem (NULL)).
 * @data: whether to time the encoder too. */
static gpointer
prepare_thread (gpointer data)
{
  GstElement *dtls = gst_element_factory_make ("dtlsdec", NULL);
  NatterCallMediaOptions options;

  if (dtls != NULL)
    gst_object_unref (gst_object_ref_sink (dtls));
  for (guint i = 0; i < G_N_ELEMENTS (call_elements); i++)
    {
      GstElement *element = gst_element_factory_make (call_elements[i], NULL);

      if (element != NULL)
        gst_object_unref (gst_object_ref_sink (element));
    }
  /* The device monitor too: its providers' probe (~0.1 s) is then done
   * before the first call, and it stays to say what is plugged in. */
  natter_call_media_options_load (&options);
  if (!options.test_sources)
    {
      g_autoptr(GstDeviceMonitor) monitor = natter_call_devices_get_monitor ();
    }
  natter_call_media_options_clear (&options);
  if (GPOINTER_TO_INT (data))
    probe_thread (NULL);
#ifdef __GLIBC__
  /* Reading the plugin registry and making the key leave ~10 MB of freed
   * heap behind (the app's RSS): give it back. */
  malloc_trim (0);
#endif
  return NULL;
}

static GThread *prepare_thread_handle;
static GThread *probe_thread_handle;
static gboolean prepare_probes;  /* the preparation times the encoder itself */
static GMutex prepare_lock;

static void
start_preparing (gboolean probe)
{
  g_mutex_lock (&prepare_lock);
  if (prepare_thread_handle == NULL)
    {
      prepare_probes = probe;
      prepare_thread_handle = g_thread_new ("natter-call-prepare", prepare_thread, GINT_TO_POINTER (probe));
    }
  g_mutex_unlock (&prepare_lock);
}

void
natter_call_media_prepare (void)
{
  start_preparing (TRUE);
}

void
natter_call_media_prepare_for_call (void)
{
  start_preparing (FALSE);
}

void
natter_call_media_probe_encoder (void)
{
  g_mutex_lock (&prepare_lock);
  if (probe_thread_handle == NULL && !prepare_probes && g_atomic_int_get (&hd_frame_cpu_us) == 0)
    probe_thread_handle = g_thread_new ("natter-call-probe", probe_thread, NULL);
  g_mutex_unlock (&prepare_lock);
}

void
natter_call_media_prepare_finish (void)
{
  natter_call_media_prepare ();
  natter_call_media_prepare_wait ();
}

void
natter_call_media_prepare_wait (void)
{
  /* Joining twice is not allowed: keep a finished marker instead. */
  g_mutex_lock (&prepare_lock);
  if (prepare_thread_handle != NULL && prepare_thread_handle != (GThread *) &prepare_lock)
    {
      g_thread_join (prepare_thread_handle);
      prepare_thread_handle = (GThread *) &prepare_lock;
    }
  if (probe_thread_handle != NULL && probe_thread_handle != (GThread *) &prepare_lock)
    {
      g_thread_join (probe_thread_handle);
      probe_thread_handle = (GThread *) &prepare_lock;
    }
  g_mutex_unlock (&prepare_lock);
}

void
natter_call_media_get_video_size (int    *width,
                                  int    *height,
                                  gint64 *frame_cpu_us)
{
  gint cpu = g_atomic_int_get (&hd_frame_cpu_us);
  gboolean hd = cpu > 0 && cpu <= HD_FRAME_BUDGET_US;

  if (width != NULL)
    *width = hd ? 1280 : 640;
  if (height != NULL)
    *height = hd ? 720 : 480;
  if (frame_cpu_us != NULL)
    *frame_cpu_us = cpu;
}

NatterCallMedia *
natter_call_media_new (NatterCallMediaType media_type)
{
  NatterCallMedia *self;

  g_return_val_if_fail (media_type == NATTER_CALL_MEDIA_AUDIO ||
                        media_type == NATTER_CALL_MEDIA_VIDEO, NULL);

  self = g_object_new (NATTER_TYPE_CALL_MEDIA, NULL);
  self->media_type = media_type;
  return self;
}

gboolean
natter_call_media_add_ice_server (NatterCallMedia *self,
                                  const char      *uri,
                                  const char      *username,
                                  const char      *password)
{
  g_autofree char *scheme = NULL;
  const char *rest;
  const char *query;
  g_autofree char *hostport = NULL;

  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);

  /* RFC 7064/7065 "turn:host:port?transport=udp" → webrtcbin's
   * "turn://user:pass@host:port" (user and password escaped: the coturn REST
   * user name "expiry:user" has a colon). */
  rest = strchr (uri, ':');
  if (rest == NULL)
    return FALSE;
  scheme = g_ascii_strdown (uri, rest - uri);
  rest++;
  if (g_str_has_prefix (rest, "//"))
    rest += 2;
  query = strchr (rest, '?');
  hostport = g_strndup (rest, query != NULL ? (gsize) (query - rest) : strlen (rest));
  if (*hostport == '\0' || strchr (hostport, '@') != NULL)
    return FALSE;

  if (g_str_equal (scheme, "stun"))
    {
      g_ptr_array_add (self->stun_servers, g_strdup_printf ("stun://%s", hostport));
      return TRUE;
    }
  if (g_str_equal (scheme, "turn") || g_str_equal (scheme, "turns"))
    {
      g_autofree char *user = g_uri_escape_string (username != NULL ? username : "", NULL, FALSE);
      g_autofree char *pass = g_uri_escape_string (password != NULL ? password : "", NULL, FALSE);

      if (query != NULL && strstr (query, "transport=tcp") != NULL)
        g_ptr_array_add (self->turn_servers,
                         g_strdup_printf ("%s://%s:%s@%s?transport=tcp", scheme, user, pass, hostport));
      else
        g_ptr_array_add (self->turn_servers,
                         g_strdup_printf ("%s://%s:%s@%s", scheme, user, pass, hostport));
      return TRUE;
    }
  return FALSE;
}

/* A test source (@description) for a running pipeline: test sources count
 * time from their own start, so it continues the pipeline's running time
 * instead (devices use the clock). */
static void
continue_running_time (NatterCallMedia *self,
                       GstElement      *source)
{
  g_autoptr(GstClock) clock = NULL;

  if (GST_STATE (self->pipeline) != GST_STATE_PLAYING ||
      g_object_class_find_property (G_OBJECT_GET_CLASS (source), "timestamp-offset") == NULL)
    return;
  clock = gst_pipeline_get_clock (GST_PIPELINE (self->pipeline));
  g_object_set (source, "timestamp-offset",
                (gint64) (gst_clock_get_time (clock) - gst_element_get_base_time (self->pipeline)), NULL);
}

static GstElement *
make_running_source (NatterCallMedia *self,
                     const char      *description)
{
  GstElement *source = gst_parse_launch (description, NULL);

  if (source == NULL)
    return NULL;
  continue_running_time (self, source);
  return source;
}

/* Replaces a running source: the old one stops (its pads flush, so nothing
 * reaches an unlinked pad), the new one takes its place upstream of the
 * same converter; nothing is renegotiated. */
static gboolean
swap_source (NatterCallMedia  *self,
             GstElement      **source,
             GstElement       *next,
             GstElement       *replacement)
{
  gst_element_set_state (*source, GST_STATE_NULL);
  gst_element_unlink (*source, next);
  gst_bin_remove (GST_BIN (self->pipeline), *source);

  *source = replacement;
  /* a device that is a test source (the tests' device provider) */
  continue_running_time (self, replacement);
  gst_bin_add (GST_BIN (self->pipeline), replacement);
  if (!gst_element_link (replacement, next))
    {
      g_warning ("Cannot link %s", GST_OBJECT_NAME (replacement));
      return FALSE;
    }
  gst_element_sync_state_with_parent (replacement);
  return TRUE;
}

const char *
natter_call_media_get_device (NatterCallMedia  *self,
                              NatterCallDevice  kind)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), NULL);
  g_return_val_if_fail (kind <= NATTER_CALL_DEVICE_SPEAKER, NULL);
  return self->devices[kind];
}

/* A camera or microphone (opened) takes the place of the one in the
 * call; FALSE when it cannot be linked. */
static gboolean
install_source (NatterCallMedia  *self,
                NatterCallDevice  kind,
                GstElement       *replacement)
{
  if (kind == NATTER_CALL_DEVICE_CAMERA && wait_for_camera (self, replacement))
    return TRUE;
  if (kind == NATTER_CALL_DEVICE_CAMERA)
    {
      drop_pending_camera (self);
      if (!swap_source (self, &self->camera, self->camera_next, replacement))
        return FALSE;
      self->camera_open = TRUE;
    }
  else if (!swap_source (self, &self->microphone, self->microphone_next, replacement))
    return FALSE;
  /* a device that had failed or was missing works again */
  if (self->missing & (1u << kind))
    {
      self->missing &= ~(1u << kind);
      g_signal_emit (self, signals[DEVICES_CHANGED], 0);
    }
  return TRUE;
}

typedef struct
{
  NatterCallMedia  *media;
  NatterCallDevice  kind;
  guint             serial;
  GTask            *task;   /* the caller's, or NULL */
} DeviceOpen;

static void
on_device_opened (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  DeviceOpen *open = user_data;
  NatterCallMedia *self = open->media;
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) element = natter_call_device_make_element_finish (result, &error);
  gboolean ok = TRUE;

  /* A later choice, the camera turned off or the call's end: this one
   * is not wanted any more (not a failure). */
  if (open->serial != self->opening[open->kind] || self->pipeline == NULL || is_stopped (self) ||
      (open->kind == NATTER_CALL_DEVICE_CAMERA && !g_atomic_int_get (&self->camera_enabled)))
    natter_call_device_close_element (g_steal_pointer (&element));
  else if (element == NULL)
    {
      g_message ("Cannot open the %s (%s): the old one stays",
                 open->kind == NATTER_CALL_DEVICE_CAMERA ? "camera" : "microphone", error->message);
      ok = FALSE;
    }
  else if (!install_source (self, open->kind, element))
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the device");
      ok = FALSE;
    }
  if (open->task != NULL && ok)
    g_task_return_boolean (open->task, TRUE);
  else if (open->task != NULL)
    g_task_return_error (open->task, g_steal_pointer (&error));
  g_clear_object (&open->task);
  g_object_unref (open->media);
  g_free (open);
}

/* Opens the chosen @kind on a worker (a device may take seconds to open)
 * and swaps it in back here; @task (taken, may be NULL) says how it went.
 * Only the latest open of a kind counts. */
static void
open_device (NatterCallMedia  *self,
             NatterCallDevice  kind,
             GTask            *task)
{
  DeviceOpen *open = g_new0 (DeviceOpen, 1);

  open->media = g_object_ref (self);
  open->kind = kind;
  open->serial = ++self->opening[kind];
  open->task = task;
  natter_call_device_make_element_async (kind, self->devices[kind], NULL, on_device_opened, open);
}

typedef enum
{
  SWITCH_DONE,
  SWITCH_FAILED,
  SWITCH_OPEN,   /* a device to open: open_device() */
} SwitchStep;

static SwitchStep
switch_device (NatterCallMedia  *self,
               NatterCallDevice  kind,
               const char       *name)
{
  GstElement *replacement;

  /* the same choice from another place (Preferences, the call window) */
  if (g_strcmp0 (self->devices[kind] ? self->devices[kind] : "", name ? name : "") == 0)
    return SWITCH_DONE;
  g_free (self->devices[kind]);
  self->devices[kind] = g_strdup (name);

  /* Before the start: remembered only. */
  if (self->pipeline == NULL || is_stopped (self))
    return SWITCH_DONE;
  /* The speaker: the sound goes there from the next buffer on. */
  if (kind == NATTER_CALL_DEVICE_SPEAKER)
    {
      if (self->options.test_sources || !natter_call_device_exists (NATTER_CALL_DEVICE_SPEAKER))
        return SWITCH_DONE;
      g_atomic_int_set (&self->speaker_missing, FALSE);
      switch_speaker (self);
      if (self->missing & NATTER_CALL_MISSING_SPEAKER)
        {
          self->missing &= ~NATTER_CALL_MISSING_SPEAKER;
          g_signal_emit (self, signals[DEVICES_CHANGED], 0);
        }
      return SWITCH_DONE;
    }
  /* A camera that is off stays closed: the choice is used when it is on
   * (a missing one is opened now if it is on). */
  if (kind == NATTER_CALL_DEVICE_CAMERA &&
      (self->camera == NULL || !g_atomic_int_get (&self->camera_enabled) ||
       (!self->camera_open && !(self->missing & NATTER_CALL_MISSING_CAMERA) && self->camera_pending == NULL)))
    return SWITCH_DONE;

  if (!self->options.test_sources)
    return SWITCH_OPEN;
  /* Test sources switch to another pattern / wave of that name. */
  {
    g_autofree char *description =
      g_strdup_printf (kind == NATTER_CALL_DEVICE_CAMERA ? "videotestsrc is-live=true pattern=%s"
                                                         : "audiotestsrc is-live=true wave=%s "
                                                           "samplesperbuffer=" AUDIO_SAMPLES_PER_BUFFER,
                       name != NULL && *name != '\0' ? name : "0");
    replacement = make_running_source (self, description);
  }
  /* an open of a real device still under way is not wanted any more */
  self->opening[kind]++;
  return replacement != NULL && install_source (self, kind, replacement) ? SWITCH_DONE : SWITCH_FAILED;
}

gboolean
natter_call_media_set_device (NatterCallMedia  *self,
                              NatterCallDevice  kind,
                              const char       *name)
{
  SwitchStep step;

  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), FALSE);
  g_return_val_if_fail (kind <= NATTER_CALL_DEVICE_SPEAKER, FALSE);

  step = switch_device (self, kind, name);
  if (step == SWITCH_OPEN)
    open_device (self, kind, NULL);
  return step != SWITCH_FAILED;
}

void
natter_call_media_set_device_async (NatterCallMedia     *self,
                                    NatterCallDevice     kind,
                                    const char          *name,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SwitchStep step;

  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));
  g_return_if_fail (kind <= NATTER_CALL_DEVICE_SPEAKER);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_call_media_set_device_async);
  step = switch_device (self, kind, name);
  if (step == SWITCH_OPEN)
    open_device (self, kind, g_steal_pointer (&task));
  else if (step == SWITCH_DONE)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No such test source");
}

gboolean
natter_call_media_set_device_finish (NatterCallMedia  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
natter_call_media_get_missing (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), 0);
  return self->missing;
}

void
natter_call_media_set_relay_only (NatterCallMedia *self,
                                  gboolean         relay_only)
{
  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));
  self->relay_only = !!relay_only;
}

void
natter_call_media_add_local_address (NatterCallMedia *self,
                                     const char      *address)
{
  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));
  g_return_if_fail (address != NULL);
  g_ptr_array_add (self->local_addresses, g_strdup (address));
}

gboolean
natter_call_media_start_offer (NatterCallMedia  *self,
                               GError          **error)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), FALSE);

  if (!build_pipeline (self, error))
    return FALSE;
  g_signal_emit_by_name (self->webrtc, "create-offer", NULL,
                         gst_promise_new_with_change_func (on_offer_created, self, NULL));
  if (self->media_type == NATTER_CALL_MEDIA_VIDEO)
    add_video_decoder (self);
  return TRUE;
}

gboolean
natter_call_media_start_answer (NatterCallMedia  *self,
                                const char       *offer_sdp,
                                GError          **error)
{
  GstWebRTCSessionDescription *offer;

  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), FALSE);
  g_return_val_if_fail (offer_sdp != NULL, FALSE);

  offer = parse_description (GST_WEBRTC_SDP_TYPE_OFFER, offer_sdp, error);
  if (offer == NULL)
    return FALSE;
  if (!build_pipeline (self, error))
    {
      gst_webrtc_session_description_free (offer);
      return FALSE;
    }
  g_signal_emit_by_name (self->webrtc, "set-remote-description", offer,
                         gst_promise_new_with_change_func (on_offer_set, self, NULL));
  gst_webrtc_session_description_free (offer);
  if (self->media_type == NATTER_CALL_MEDIA_VIDEO)
    add_video_decoder (self);
  return TRUE;
}

gboolean
natter_call_media_set_remote_answer (NatterCallMedia  *self,
                                     const char       *answer_sdp,
                                     GError          **error)
{
  GstWebRTCSessionDescription *answer;

  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), FALSE);
  g_return_val_if_fail (answer_sdp != NULL, FALSE);

  if (self->webrtc == NULL || is_stopped (self))
    return TRUE;
  answer = parse_description (GST_WEBRTC_SDP_TYPE_ANSWER, answer_sdp, error);
  if (answer == NULL)
    return FALSE;
  g_signal_emit_by_name (self->webrtc, "set-remote-description", answer,
                         gst_promise_new_with_change_func (on_answer_set, self, NULL));
  gst_webrtc_session_description_free (answer);
  return TRUE;
}

void
natter_call_media_add_remote_candidate (NatterCallMedia *self,
                                        guint            mline,
                                        const char      *candidate)
{
  Candidate *pending;

  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));
  g_return_if_fail (candidate != NULL);

  if (is_stopped (self))
    return;
  if (self->remote_set && self->webrtc != NULL)
    {
      g_signal_emit_by_name (self->webrtc, "add-ice-candidate", mline, candidate);
      return;
    }
  if (self->pending_candidates->len >= 64)
    return;
  pending = g_new0 (Candidate, 1);
  pending->mline = mline;
  pending->candidate = g_strdup (candidate);
  g_ptr_array_add (self->pending_candidates, pending);
}

void
natter_call_media_stop (NatterCallMedia *self)
{
  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));

  if (!g_atomic_int_compare_and_exchange (&self->stopped, FALSE, TRUE))
    return;

  if (self->watchdog_id != 0)
    {
      GSource *source = g_main_context_find_source_by_id (self->context, self->watchdog_id);
      if (source != NULL)
        g_source_destroy (source);
      self->watchdog_id = 0;
    }
  if (self->bus_watch_id != 0)
    {
      GSource *source = g_main_context_find_source_by_id (self->context, self->bus_watch_id);
      if (source != NULL)
        g_source_destroy (source);
      self->bus_watch_id = 0;
    }

  if (self->devices_handler != 0)
    g_clear_signal_handler (&self->devices_handler, self->devices_bus);
  gst_clear_object (&self->devices_bus);
  natter_call_rate_control_stop (self->rate_control);
  if (self->pipeline != NULL)
    {
      gint64 begin = g_get_monotonic_time ();

      g_autoptr(GstElement) rtpbin = gst_bin_get_by_name (GST_BIN (self->webrtc), "rtpbin");

      g_signal_handlers_disconnect_by_data (self->webrtc, self);
      if (rtpbin != NULL)
        g_signal_handlers_disconnect_by_data (rtpbin, self);
      gst_element_set_state (self->pipeline, GST_STATE_NULL);
      g_debug ("pipeline stopped in %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - begin) / 1000);
      /* the portal's camera lets go of the remote now, not when the last
       * reference to its element goes */
      natter_call_device_stop_camera (self->camera);
    }
  gst_clear_object (&self->volume);
  self->echo_probe = NULL;
  g_atomic_pointer_set (&self->audio_output, NULL);
  g_atomic_pointer_set (&self->video_decoder, NULL);
  self->camera = self->camera_next = NULL;
  drop_pending_camera (self);
  self->microphone = self->microphone_next = NULL;
  self->last_branch = NULL;
  self->webrtc = NULL;
  gst_clear_object (&self->pipeline);
  g_ptr_array_set_size (self->pending_candidates, 0);
}

void
natter_call_media_set_muted (NatterCallMedia *self,
                             gboolean         muted)
{
  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));

  self->muted = !!muted;
  if (self->volume != NULL)
    g_object_set (self->volume, "mute", self->muted, NULL);
}

void
natter_call_media_set_camera_enabled (NatterCallMedia *self,
                                      gboolean         enabled)
{
  const char *name;
  GstElement *replacement;

  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));

  enabled = !!enabled;
  g_atomic_int_set (&self->camera_enabled, enabled);
  if (!enabled)
    drop_pending_camera (self);
  if (self->pipeline == NULL || is_stopped (self) || self->camera == NULL || self->camera_open == enabled ||
      (enabled && self->camera_pending != NULL))
    return;

  /* Off closes the camera (its light goes out) and black frames from a
   * test source take its place; on opens it again (a device on a worker:
   * the black frames go on until it is open). */
  self->opening[NATTER_CALL_DEVICE_CAMERA]++;
  name = self->devices[NATTER_CALL_DEVICE_CAMERA];
  if (enabled && !self->options.test_sources)
    {
      open_device (self, NATTER_CALL_DEVICE_CAMERA, NULL);
      return;
    }
  if (!enabled)
    replacement = make_running_source (self, "videotestsrc is-live=true pattern=black");
  else
    {
      g_autofree char *description =
        g_strdup_printf ("videotestsrc is-live=true pattern=%s", name != NULL && *name != '\0' ? name : "smpte");
      replacement = make_running_source (self, description);
    }
  if (replacement == NULL)
    {
      g_warning ("Cannot open the camera again: the peer sees black frames");
      return;
    }
  if (enabled)
    {
      install_source (self, NATTER_CALL_DEVICE_CAMERA, replacement);
      return;
    }
  if (swap_source (self, &self->camera, self->camera_next, replacement))
    self->camera_open = FALSE;
}

gboolean
natter_call_media_get_camera_open (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), FALSE);
  return self->camera != NULL && self->camera_open;
}

NatterVideoSink *
natter_call_media_get_remote_video (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), NULL);
  return self->media_type == NATTER_CALL_MEDIA_VIDEO ? self->remote_video : NULL;
}

NatterVideoSink *
natter_call_media_get_local_video (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), NULL);
  return self->media_type == NATTER_CALL_MEDIA_VIDEO ? self->local_video : NULL;
}

guint64
natter_call_media_get_video_frames_received (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), 0);
  return (guint) g_atomic_int_get (&self->video_frames);
}

guint64
natter_call_media_get_audio_buffers_received (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), 0);
  return (guint) g_atomic_int_get (&self->audio_buffers);
}

gint64
natter_call_media_get_first_frame_time (NatterCallMedia *self)
{
  return natter_call_media_get_phase_time (self, NATTER_CALL_PHASE_FIRST_FRAME);
}

gint64
natter_call_media_get_phase_time (NatterCallMedia *self,
                                  NatterCallPhase  phase)
{
  gint64 time;

  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), 0);
  g_return_val_if_fail (phase < NATTER_CALL_N_PHASES, 0);
  g_mutex_lock (&self->lock);
  time = self->phase_times[phase];
  g_mutex_unlock (&self->lock);
  return time;
}

static guint64
sum_property (GstElement *bin,
              const char *factory,
              const char *property)
{
  g_autoptr(GstIterator) it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  guint64 sum = 0;
  gboolean done = FALSE;

  while (!done)
    switch (gst_iterator_next (it, &item))
      {
      case GST_ITERATOR_OK:
        {
          GstElement *element = g_value_get_object (&item);
          GstElementFactory *f = gst_element_get_factory (element);

          if (f != NULL && g_str_equal (GST_OBJECT_NAME (f), factory))
            {
              guint value = 0;
              g_object_get (element, property, &value, NULL);
              sum += value;
            }
          g_value_reset (&item);
        }
        break;
      case GST_ITERATOR_RESYNC:
        sum = 0;
        gst_iterator_resync (it);
        break;
      case GST_ITERATOR_ERROR:
      case GST_ITERATOR_DONE:
      default:
        done = TRUE;
        break;
      }
  g_value_unset (&item);
  return sum;
}

void
natter_call_media_get_retransmissions (NatterCallMedia *self,
                                       guint64         *sent,
                                       guint64         *received)
{
  g_return_if_fail (NATTER_IS_CALL_MEDIA (self));

  if (sent != NULL)
    *sent = self->pipeline != NULL ? sum_property (self->pipeline, "rtprtxsend", "num-rtx-packets") : 0;
  if (received != NULL)
    *received = self->pipeline != NULL
                  ? sum_property (self->pipeline, "rtprtxreceive", "num-rtx-assoc-packets") : 0;
}

guint
natter_call_media_get_video_bitrate (NatterCallMedia *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_MEDIA (self), 0);
  return natter_call_rate_control_get_bitrate (self->rate_control);
}
