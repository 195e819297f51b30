/* test-call-machine.c — NatterCall fed every event in every state
 *
 * A recording host stands in for the network and the clock: it keeps the
 * messages the call sends and the timers it runs. Media events are fed
 * directly (the host gives no media), so this is the state machine alone;
 * test-call-media.c runs it with real pipelines.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-private.h"
#include "natter-object-names.h"
#include "natter-test-stack.h"

/* ------------------------------------------------------------ the host */

#define TEST_TYPE_HOST (test_host_get_type ())
G_DECLARE_FINAL_TYPE (TestHost, test_host, TEST, HOST, GObject)

struct _TestHost
{
  GObject     parent_instance;
  GString    *sent;          /* "RC:VCRinging RC:VCHangup(1) ..." */
  gboolean    timers[NATTER_CALL_N_TIMERS];
  guint       ended_count;
  JsonObject *summary;
  GPtrArray  *contents;      /* JsonObject of each message */
  gboolean    media_waits;   /* media_ready() says no (TURN on its way) */
  guint       media_made;    /* create_media() calls (it gives none) */
};

static void test_host_iface_init (NatterCallHostInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestHost, test_host, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (NATTER_TYPE_CALL_HOST, test_host_iface_init))

static void
host_send (NatterCallHost *host,
           NatterCall     *call,
           const char     *object_name,
           JsonObject     *content)
{
  TestHost *self = TEST_HOST (host);

  g_assert_cmpstr (json_object_get_string_member (content, "callId"), ==,
                   natter_call_get_call_id (call));
  if (self->sent->len > 0)
    g_string_append_c (self->sent, ' ');
  g_string_append (self->sent, object_name);
  if (g_str_equal (object_name, NATTER_OBJECT_CALL_HANGUP))
    g_string_append_printf (self->sent, "(%" G_GINT64_FORMAT ")",
                            json_object_get_int_member (content, "reason"));
  g_ptr_array_add (self->contents, json_object_ref (content));
}

static void
host_start_timer (NatterCallHost  *host,
                  NatterCall      *call,
                  NatterCallTimer  timer,
                  guint            timeout_ms)
{
  TestHost *self = TEST_HOST (host);

  g_assert_cmpuint (timeout_ms, ==,
                    timer == NATTER_CALL_TIMER_NO_ANSWER ? 30000 : 10000);
  self->timers[timer] = TRUE;
}

static void
host_stop_timer (NatterCallHost  *host,
                 NatterCall      *call,
                 NatterCallTimer  timer)
{
  TEST_HOST (host)->timers[timer] = FALSE;
}

static void
host_ended (NatterCallHost *host,
            NatterCall     *call,
            JsonObject     *summary)
{
  TestHost *self = TEST_HOST (host);

  self->ended_count++;
  g_clear_pointer (&self->summary, json_object_unref);
  if (summary != NULL)
    self->summary = json_object_ref (summary);
}

static NatterCallMedia *
host_create_media (NatterCallHost *host,
                   NatterCall     *call)
{
  TEST_HOST (host)->media_made++;
  return NULL;
}

static gboolean
host_media_ready (NatterCallHost *host,
                  NatterCall     *call)
{
  return !TEST_HOST (host)->media_waits;
}

static void
test_host_iface_init (NatterCallHostInterface *iface)
{
  iface->send = host_send;
  iface->create_media = host_create_media;
  iface->media_ready = host_media_ready;
  iface->start_timer = host_start_timer;
  iface->stop_timer = host_stop_timer;
  iface->ended = host_ended;
}

static void
test_host_finalize (GObject *object)
{
  TestHost *self = TEST_HOST (object);

  g_string_free (self->sent, TRUE);
  g_clear_pointer (&self->summary, json_object_unref);
  g_ptr_array_unref (self->contents);
  G_OBJECT_CLASS (test_host_parent_class)->finalize (object);
}

static void
test_host_class_init (TestHostClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_host_finalize;
}

static void
test_host_init (TestHost *self)
{
  self->sent = g_string_new (NULL);
  self->contents = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
}

static void
host_clear (TestHost *self)
{
  g_string_truncate (self->sent, 0);
  g_ptr_array_set_size (self->contents, 0);
}

static char *
host_timers (TestHost *self)
{
  GString *out = g_string_new (NULL);

  if (self->timers[NATTER_CALL_TIMER_NO_ANSWER])
    g_string_append (out, "NA");
  if (self->timers[NATTER_CALL_TIMER_CONNECT])
    g_string_append_printf (out, "%sC", out->len > 0 ? " " : "");
  return g_string_free (out, FALSE);
}

/* ----------------------------------------------------- states and events */

#define SELF "alice"
#define PEER "bob"

typedef enum {
  S_IDLE_OUT,        /* outgoing, not started */
  S_IDLE_IN,         /* incoming, not started */
  S_DIALING,         /* invite sent */
  S_RINGING,         /* peer answered Ringing */
  S_INCOMING,        /* Ringing sent */
  S_ACTIVE_OUT,      /* caller after Accept */
  S_ACTIVE_IN,       /* callee after accept, answer sent */
  S_ACCEPTING,       /* callee after accept, answer not yet ready */
  S_ENDED,
  N_SETUPS
} Setup;

static const char * const setup_names[] = {
  "idle-out", "idle-in", "dialing", "ringing", "incoming",
  "active-out", "active-in", "accepting", "ended",
};

typedef enum {
  E_START,
  E_ACCEPT,
  E_REJECT,
  E_HANGUP,
  E_REMOTE_RINGING,
  E_REMOTE_ACCEPT,
  E_REMOTE_HANGUP,       /* reason 1 */
  E_REMOTE_HANGUP_BAD,   /* reason "x": treated as 3 */
  E_REMOTE_ICE,
  E_REMOTE_MODIFY,
  E_SELF_ACCEPT,         /* own other device */
  E_SELF_HANGUP,
  E_STRANGER_HANGUP,
  E_LOCAL_SDP,
  E_LOCAL_CANDIDATE,
  E_MEDIA_CONNECTED,
  E_MEDIA_FAILED,
  E_TIMER_NO_ANSWER,
  E_TIMER_CONNECT,
  E_SEND_FAILED,
  E_BUSY,
  N_EVENTS
} Event;

static const char * const event_names[] = {
  "start", "accept", "reject", "hangup", "remote-ringing", "remote-accept",
  "remote-hangup", "remote-hangup-bad", "remote-ice", "remote-modify",
  "self-accept", "self-hangup", "stranger-hangup", "local-sdp",
  "local-candidate", "media-connected", "media-failed", "timer-no-answer",
  "timer-connect", "send-failed", "busy",
};

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static void
feed_message (NatterCall *call,
              const char *sender,
              const char *object_name,
              const char *json_format,
              ...)
{
  g_autofree char *json = NULL;
  g_autoptr(JsonObject) content = NULL;
  va_list args;

  va_start (args, json_format);
  json = g_strdup_vprintf (json_format, args);
  va_end (args);
  content = parse_object (json);
  natter_call_handle_message (call, sender, object_name, content);
}

static NatterCall *
new_incoming (TestHost *host)
{
  g_autoptr(JsonObject) invite =
    parse_object ("{\"callId\":\"call-1\",\"mediaType\":2,\"inviteUserIds\":[\"alice\"],"
                  "\"sdp\":\"v=0\"}");
  g_autoptr(GError) error = NULL;
  NatterCall *call = natter_call_new_incoming (NATTER_CALL_HOST (host), SELF, PEER, invite, &error);

  g_assert_no_error (error);
  return call;
}

static NatterCall *
setup_call (TestHost *host,
            Setup     setup)
{
  NatterCall *call;
  gboolean outgoing = setup == S_IDLE_OUT || setup == S_DIALING || setup == S_RINGING ||
                      setup == S_ACTIVE_OUT || setup == S_ENDED;

  if (outgoing)
    call = natter_call_new_outgoing (NATTER_CALL_HOST (host), "call-1", SELF, PEER,
                                     NATTER_CALL_MEDIA_VIDEO);
  else
    call = new_incoming (host);

  if (setup == S_IDLE_OUT || setup == S_IDLE_IN)
    return call;

  natter_call_start (call);
  if (outgoing)
    natter_call_handle_local_description (call, "v=0 offer");
  if (setup == S_RINGING || setup == S_ACTIVE_OUT)
    feed_message (call, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\"}");
  if (setup == S_ACTIVE_OUT)
    feed_message (call, PEER, NATTER_OBJECT_CALL_ACCEPT,
                  "{\"callId\":\"call-1\",\"mediaType\":2,\"sdp\":\"v=0 answer\"}");
  if (setup == S_ACTIVE_IN || setup == S_ACCEPTING)
    natter_call_accept (call);
  if (setup == S_ACTIVE_IN)
    natter_call_handle_local_description (call, "v=0 answer");
  if (setup == S_ENDED)
    natter_call_hangup (call);
  return call;
}

static void
feed_event (NatterCall *call,
            Event       event)
{
  switch (event)
    {
    case E_START:
      natter_call_start (call);
      break;
    case E_ACCEPT:
      natter_call_accept (call);
      break;
    case E_REJECT:
      natter_call_reject (call);
      break;
    case E_HANGUP:
      natter_call_hangup (call);
      break;
    case E_REMOTE_RINGING:
      feed_message (call, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\"}");
      break;
    case E_REMOTE_ACCEPT:
      feed_message (call, PEER, NATTER_OBJECT_CALL_ACCEPT,
                    "{\"callId\":\"call-1\",\"mediaType\":2,\"sdp\":\"v=0\"}");
      break;
    case E_REMOTE_HANGUP:
      feed_message (call, PEER, NATTER_OBJECT_CALL_HANGUP, "{\"callId\":\"call-1\",\"reason\":1}");
      break;
    case E_REMOTE_HANGUP_BAD:
      feed_message (call, PEER, NATTER_OBJECT_CALL_HANGUP, "{\"callId\":\"call-1\",\"reason\":\"x\"}");
      break;
    case E_REMOTE_ICE:
      feed_message (call, PEER, NATTER_OBJECT_CALL_ICE,
                    "{\"callId\":\"call-1\",\"candidate\":\"candidate:1 1 UDP 1 127.0.0.1 9 typ host\","
                    "\"sdpMLineIndex\":0}");
      break;
    case E_REMOTE_MODIFY:
      feed_message (call, PEER, NATTER_OBJECT_CALL_MODIFY_MEDIA, "{\"callId\":\"call-1\",\"mediaType\":1}");
      break;
    case E_SELF_ACCEPT:
      feed_message (call, SELF, NATTER_OBJECT_CALL_ACCEPT, "{\"callId\":\"call-1\",\"mediaType\":2}");
      break;
    case E_SELF_HANGUP:
      feed_message (call, SELF, NATTER_OBJECT_CALL_HANGUP, "{\"callId\":\"call-1\",\"reason\":2}");
      break;
    case E_STRANGER_HANGUP:
      feed_message (call, "mallory", NATTER_OBJECT_CALL_HANGUP, "{\"callId\":\"call-1\",\"reason\":3}");
      break;
    case E_LOCAL_SDP:
      natter_call_handle_local_description (call, "v=0 late");
      break;
    case E_LOCAL_CANDIDATE:
      natter_call_handle_local_candidate (call, 0, "candidate:2 1 UDP 1 127.0.0.1 10 typ host");
      break;
    case E_MEDIA_CONNECTED:
      natter_call_handle_media_connected (call);
      break;
    case E_MEDIA_FAILED:
      natter_call_handle_media_failed (call);
      break;
    case E_TIMER_NO_ANSWER:
      natter_call_handle_timer (call, NATTER_CALL_TIMER_NO_ANSWER);
      break;
    case E_TIMER_CONNECT:
      natter_call_handle_timer (call, NATTER_CALL_TIMER_CONNECT);
      break;
    case E_SEND_FAILED:
      natter_call_handle_send_failed (call, NATTER_OBJECT_CALL_ICE);
      break;
    case E_BUSY:
      natter_call_refuse_busy (call);
      break;
    case N_EVENTS:
    default:
      g_assert_not_reached ();
    }
}

typedef struct
{
  NatterCallState   state;
  NatterCallReason  reason;
  const char       *sent;
  const char       *timers;
} Outcome;

#define IDLE     NATTER_CALL_STATE_IDLE
#define DIALING  NATTER_CALL_STATE_DIALING
#define INCOMING NATTER_CALL_STATE_INCOMING
#define RINGING  NATTER_CALL_STATE_RINGING
#define ACTIVE   NATTER_CALL_STATE_ACTIVE
#define ENDED    NATTER_CALL_STATE_ENDED

/* Unchanged: the event means nothing in that state. */
#define SAME(state, timers) { state, 0, "", timers }
#define END(reason, sent)   { ENDED, reason, sent, "" }

/* Expected outcome of every event in every state. */
static const Outcome table[N_SETUPS][N_EVENTS] = {
  [S_IDLE_OUT] = {
    [E_START] = { DIALING, 0, "", "NA" },
    [E_ACCEPT] = SAME (IDLE, ""),
    [E_REJECT] = SAME (IDLE, ""),
    [E_HANGUP] = END (1, ""),
    [E_REMOTE_RINGING] = SAME (IDLE, ""),
    [E_REMOTE_ACCEPT] = SAME (IDLE, ""),
    [E_REMOTE_HANGUP] = SAME (IDLE, ""),
    [E_REMOTE_HANGUP_BAD] = SAME (IDLE, ""),
    [E_REMOTE_ICE] = SAME (IDLE, ""),
    [E_REMOTE_MODIFY] = SAME (IDLE, ""),
    [E_SELF_ACCEPT] = SAME (IDLE, ""),
    [E_SELF_HANGUP] = SAME (IDLE, ""),
    [E_STRANGER_HANGUP] = SAME (IDLE, ""),
    [E_LOCAL_SDP] = SAME (IDLE, ""),
    [E_LOCAL_CANDIDATE] = SAME (IDLE, ""),
    [E_MEDIA_CONNECTED] = SAME (IDLE, ""),
    [E_MEDIA_FAILED] = SAME (IDLE, ""),
    [E_TIMER_NO_ANSWER] = SAME (IDLE, ""),
    [E_TIMER_CONNECT] = SAME (IDLE, ""),
    [E_SEND_FAILED] = SAME (IDLE, ""),
    [E_BUSY] = SAME (IDLE, ""),
  },
  [S_IDLE_IN] = {
    [E_START] = { INCOMING, 0, "RC:VCRinging", "NA" },
    [E_ACCEPT] = SAME (IDLE, ""),
    [E_REJECT] = SAME (IDLE, ""),
    [E_HANGUP] = END (1, ""),
    [E_REMOTE_RINGING] = SAME (IDLE, ""),
    [E_REMOTE_ACCEPT] = SAME (IDLE, ""),
    [E_REMOTE_HANGUP] = SAME (IDLE, ""),
    [E_REMOTE_HANGUP_BAD] = SAME (IDLE, ""),
    [E_REMOTE_ICE] = SAME (IDLE, ""),
    [E_REMOTE_MODIFY] = SAME (IDLE, ""),
    [E_SELF_ACCEPT] = SAME (IDLE, ""),
    [E_SELF_HANGUP] = SAME (IDLE, ""),
    [E_STRANGER_HANGUP] = SAME (IDLE, ""),
    [E_LOCAL_SDP] = SAME (IDLE, ""),
    [E_LOCAL_CANDIDATE] = SAME (IDLE, ""),
    [E_MEDIA_CONNECTED] = SAME (IDLE, ""),
    [E_MEDIA_FAILED] = SAME (IDLE, ""),
    [E_TIMER_NO_ANSWER] = SAME (IDLE, ""),
    [E_TIMER_CONNECT] = SAME (IDLE, ""),
    [E_SEND_FAILED] = SAME (IDLE, ""),
    /* A second call while another is live: refused without ringing. */
    [E_BUSY] = END (4, "RC:VCHangup(4)"),
  },
  [S_DIALING] = {
    [E_START] = SAME (DIALING, "NA"),
    [E_ACCEPT] = SAME (DIALING, "NA"),
    [E_REJECT] = SAME (DIALING, "NA"),
    [E_HANGUP] = END (1, "RC:VCHangup(1)"),
    [E_REMOTE_RINGING] = { RINGING, 0, "", "NA" },
    [E_REMOTE_ACCEPT] = { ACTIVE, 0, "", "C" },
    [E_REMOTE_HANGUP] = END (11, ""),
    [E_REMOTE_HANGUP_BAD] = END (13, ""),
    [E_REMOTE_ICE] = SAME (DIALING, "NA"),
    [E_REMOTE_MODIFY] = SAME (DIALING, "NA"),
    [E_SELF_ACCEPT] = SAME (DIALING, "NA"),
    [E_SELF_HANGUP] = SAME (DIALING, "NA"),
    [E_STRANGER_HANGUP] = SAME (DIALING, "NA"),
    [E_LOCAL_SDP] = SAME (DIALING, "NA"),
    [E_LOCAL_CANDIDATE] = { DIALING, 0, "NT:VCIce", "NA" },
    [E_MEDIA_CONNECTED] = SAME (DIALING, "NA"),
    [E_MEDIA_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_TIMER_NO_ANSWER] = END (5, "RC:VCHangup(5)"),
    [E_TIMER_CONNECT] = SAME (DIALING, "NA"),
    [E_SEND_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_BUSY] = SAME (DIALING, "NA"),
  },
  [S_RINGING] = {
    [E_START] = SAME (RINGING, "NA"),
    [E_ACCEPT] = SAME (RINGING, "NA"),
    [E_REJECT] = SAME (RINGING, "NA"),
    [E_HANGUP] = END (1, "RC:VCHangup(1)"),
    [E_REMOTE_RINGING] = SAME (RINGING, "NA"),
    [E_REMOTE_ACCEPT] = { ACTIVE, 0, "", "C" },
    [E_REMOTE_HANGUP] = END (11, ""),
    [E_REMOTE_HANGUP_BAD] = END (13, ""),
    [E_REMOTE_ICE] = SAME (RINGING, "NA"),
    [E_REMOTE_MODIFY] = SAME (RINGING, "NA"),
    [E_SELF_ACCEPT] = SAME (RINGING, "NA"),
    [E_SELF_HANGUP] = SAME (RINGING, "NA"),
    [E_STRANGER_HANGUP] = SAME (RINGING, "NA"),
    [E_LOCAL_SDP] = SAME (RINGING, "NA"),
    [E_LOCAL_CANDIDATE] = { RINGING, 0, "NT:VCIce", "NA" },
    [E_MEDIA_CONNECTED] = SAME (RINGING, "NA"),
    [E_MEDIA_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_TIMER_NO_ANSWER] = END (5, "RC:VCHangup(5)"),
    [E_TIMER_CONNECT] = SAME (RINGING, "NA"),
    [E_SEND_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_BUSY] = SAME (RINGING, "NA"),
  },
  [S_INCOMING] = {
    [E_START] = SAME (INCOMING, "NA"),
    [E_ACCEPT] = { ACTIVE, 0, "", "C" },
    [E_REJECT] = END (2, "RC:VCHangup(2)"),
    [E_HANGUP] = END (2, "RC:VCHangup(2)"),
    [E_REMOTE_RINGING] = SAME (INCOMING, "NA"),
    [E_REMOTE_ACCEPT] = SAME (INCOMING, "NA"),
    [E_REMOTE_HANGUP] = END (11, ""),
    [E_REMOTE_HANGUP_BAD] = END (13, ""),
    [E_REMOTE_ICE] = SAME (INCOMING, "NA"),
    [E_REMOTE_MODIFY] = SAME (INCOMING, "NA"),
    [E_SELF_ACCEPT] = END (8, ""),
    [E_SELF_HANGUP] = END (8, ""),
    [E_STRANGER_HANGUP] = SAME (INCOMING, "NA"),
    [E_LOCAL_SDP] = SAME (INCOMING, "NA"),
    [E_LOCAL_CANDIDATE] = SAME (INCOMING, "NA"),
    [E_MEDIA_CONNECTED] = SAME (INCOMING, "NA"),
    [E_MEDIA_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_TIMER_NO_ANSWER] = END (5, "RC:VCHangup(5)"),
    [E_TIMER_CONNECT] = SAME (INCOMING, "NA"),
    [E_SEND_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_BUSY] = END (4, "RC:VCHangup(4)"),
  },
  [S_ACTIVE_OUT] = {
    [E_START] = SAME (ACTIVE, "C"),
    [E_ACCEPT] = SAME (ACTIVE, "C"),
    [E_REJECT] = SAME (ACTIVE, "C"),
    [E_HANGUP] = END (3, "RC:VCHangup(3)"),
    [E_REMOTE_RINGING] = SAME (ACTIVE, "C"),
    [E_REMOTE_ACCEPT] = SAME (ACTIVE, "C"),
    [E_REMOTE_HANGUP] = END (11, ""),
    [E_REMOTE_HANGUP_BAD] = END (13, ""),
    [E_REMOTE_ICE] = SAME (ACTIVE, "C"),
    [E_REMOTE_MODIFY] = SAME (ACTIVE, "C"),
    [E_SELF_ACCEPT] = SAME (ACTIVE, "C"),
    [E_SELF_HANGUP] = SAME (ACTIVE, "C"),
    [E_STRANGER_HANGUP] = SAME (ACTIVE, "C"),
    [E_LOCAL_SDP] = SAME (ACTIVE, "C"),
    [E_LOCAL_CANDIDATE] = { ACTIVE, 0, "NT:VCIce", "C" },
    [E_MEDIA_CONNECTED] = SAME (ACTIVE, ""),
    [E_MEDIA_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_TIMER_NO_ANSWER] = SAME (ACTIVE, "C"),
    [E_TIMER_CONNECT] = END (7, "RC:VCHangup(7)"),
    [E_SEND_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_BUSY] = SAME (ACTIVE, "C"),
  },
  [S_ACTIVE_IN] = {
    [E_START] = SAME (ACTIVE, "C"),
    [E_ACCEPT] = SAME (ACTIVE, "C"),
    [E_REJECT] = SAME (ACTIVE, "C"),
    [E_HANGUP] = END (3, "RC:VCHangup(3)"),
    [E_REMOTE_RINGING] = SAME (ACTIVE, "C"),
    [E_REMOTE_ACCEPT] = SAME (ACTIVE, "C"),
    [E_REMOTE_HANGUP] = END (11, ""),
    [E_REMOTE_HANGUP_BAD] = END (13, ""),
    [E_REMOTE_ICE] = SAME (ACTIVE, "C"),
    [E_REMOTE_MODIFY] = SAME (ACTIVE, "C"),
    [E_SELF_ACCEPT] = SAME (ACTIVE, "C"),
    [E_SELF_HANGUP] = SAME (ACTIVE, "C"),
    [E_STRANGER_HANGUP] = SAME (ACTIVE, "C"),
    [E_LOCAL_SDP] = SAME (ACTIVE, "C"),
    [E_LOCAL_CANDIDATE] = { ACTIVE, 0, "NT:VCIce", "C" },
    [E_MEDIA_CONNECTED] = SAME (ACTIVE, ""),
    [E_MEDIA_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_TIMER_NO_ANSWER] = SAME (ACTIVE, "C"),
    [E_TIMER_CONNECT] = END (7, "RC:VCHangup(7)"),
    [E_SEND_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_BUSY] = SAME (ACTIVE, "C"),
  },
  [S_ACCEPTING] = {
    [E_START] = SAME (ACTIVE, "C"),
    [E_ACCEPT] = SAME (ACTIVE, "C"),
    [E_REJECT] = SAME (ACTIVE, "C"),
    [E_HANGUP] = END (3, "RC:VCHangup(3)"),
    [E_REMOTE_RINGING] = SAME (ACTIVE, "C"),
    [E_REMOTE_ACCEPT] = SAME (ACTIVE, "C"),
    /* The caller's cancel crossed our accept. */
    [E_REMOTE_HANGUP] = END (11, ""),
    [E_REMOTE_HANGUP_BAD] = END (13, ""),
    [E_REMOTE_ICE] = SAME (ACTIVE, "C"),
    [E_REMOTE_MODIFY] = SAME (ACTIVE, "C"),
    [E_SELF_ACCEPT] = SAME (ACTIVE, "C"),
    [E_SELF_HANGUP] = SAME (ACTIVE, "C"),
    [E_STRANGER_HANGUP] = SAME (ACTIVE, "C"),
    [E_LOCAL_SDP] = { ACTIVE, 0, "RC:VCAccept", "C" },
    /* Held back until the answer is sent. */
    [E_LOCAL_CANDIDATE] = SAME (ACTIVE, "C"),
    [E_MEDIA_CONNECTED] = SAME (ACTIVE, ""),
    [E_MEDIA_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_TIMER_NO_ANSWER] = SAME (ACTIVE, "C"),
    [E_TIMER_CONNECT] = END (7, "RC:VCHangup(7)"),
    [E_SEND_FAILED] = END (7, "RC:VCHangup(7)"),
    [E_BUSY] = SAME (ACTIVE, "C"),
  },
  [S_ENDED] = {
    [E_START] = { ENDED, 1, "", "" },
    [E_ACCEPT] = { ENDED, 1, "", "" },
    [E_REJECT] = { ENDED, 1, "", "" },
    [E_HANGUP] = { ENDED, 1, "", "" },
    [E_REMOTE_RINGING] = { ENDED, 1, "", "" },
    /* The callee's accept crossed our cancel. */
    [E_REMOTE_ACCEPT] = { ENDED, 1, "", "" },
    [E_REMOTE_HANGUP] = { ENDED, 1, "", "" },
    [E_REMOTE_HANGUP_BAD] = { ENDED, 1, "", "" },
    [E_REMOTE_ICE] = { ENDED, 1, "", "" },
    [E_REMOTE_MODIFY] = { ENDED, 1, "", "" },
    [E_SELF_ACCEPT] = { ENDED, 1, "", "" },
    [E_SELF_HANGUP] = { ENDED, 1, "", "" },
    [E_STRANGER_HANGUP] = { ENDED, 1, "", "" },
    [E_LOCAL_SDP] = { ENDED, 1, "", "" },
    [E_LOCAL_CANDIDATE] = { ENDED, 1, "", "" },
    [E_MEDIA_CONNECTED] = { ENDED, 1, "", "" },
    [E_MEDIA_FAILED] = { ENDED, 1, "", "" },
    [E_TIMER_NO_ANSWER] = { ENDED, 1, "", "" },
    [E_TIMER_CONNECT] = { ENDED, 1, "", "" },
    [E_SEND_FAILED] = { ENDED, 1, "", "" },
    [E_BUSY] = { ENDED, 1, "", "" },
  },
};

typedef struct
{
  guint           count;
  NatterCallState last_new;
  NatterCallState last_old;
} StateLog;

static void
on_state_changed (NatterCall      *call,
                  NatterCallState  new_state,
                  NatterCallState  old_state,
                  StateLog        *log)
{
  g_assert_cmpint (new_state, !=, old_state);
  g_assert_cmpint (natter_call_get_state (call), ==, new_state);
  log->count++;
  log->last_new = new_state;
  log->last_old = old_state;
}

static void
test_table (void)
{
  for (Setup setup = 0; setup < N_SETUPS; setup++)
    for (Event event = 0; event < N_EVENTS; event++)
      {
        const Outcome *expected = &table[setup][event];
        g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
        g_autoptr(NatterCall) call = setup_call (host, setup);
        NatterCallState before = natter_call_get_state (call);
        guint ended_before = host->ended_count;
        StateLog log = { 0, };
        g_autofree char *timers = NULL;

        g_test_message ("%s + %s", setup_names[setup], event_names[event]);
        host_clear (host);
        g_signal_connect (call, "state-changed", G_CALLBACK (on_state_changed), &log);

        feed_event (call, event);

        if (natter_call_get_state (call) != expected->state ||
            natter_call_get_reason (call) != (expected->state == ENDED ? expected->reason : 0) ||
            g_strcmp0 (host->sent->str, expected->sent) != 0)
          g_error ("%s + %s: got %s/%d sent \"%s\", expected %s/%d sent \"%s\"",
                   setup_names[setup], event_names[event],
                   natter_call_state_to_string (natter_call_get_state (call)),
                   natter_call_get_reason (call), host->sent->str,
                   natter_call_state_to_string (expected->state), expected->reason, expected->sent);

        timers = host_timers (host);
        if (g_strcmp0 (timers, expected->timers) != 0)
          g_error ("%s + %s: timers \"%s\", expected \"%s\"",
                   setup_names[setup], event_names[event], timers, expected->timers);

        /* One typed signal per real change, none otherwise. */
        if (expected->state != before)
          {
            g_assert_cmpuint (log.count, ==, 1);
            g_assert_cmpint (log.last_new, ==, expected->state);
            g_assert_cmpint (log.last_old, ==, before);
          }
        else
          g_assert_cmpuint (log.count, ==, 0);

        /* Every call that ends leaves exactly one summary, once. */
        if (expected->state == ENDED && before != ENDED)
          {
            g_assert_cmpuint (host->ended_count, ==, ended_before + 1);
            g_assert_nonnull (host->summary);
            g_assert_cmpint (json_object_get_int_member (host->summary, "status"), ==,
                             expected->reason);
          }
        else
          g_assert_cmpuint (host->ended_count, ==, ended_before);
      }
}

/* --------------------------------------------------------- single cases */

static void
test_candidates_wait_for_description (void)
{
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) call = natter_call_new_outgoing (NATTER_CALL_HOST (host), "call-1", SELF,
                                                         PEER, NATTER_CALL_MEDIA_AUDIO);
  JsonObject *invite;

  natter_call_start (call);
  natter_call_handle_local_candidate (call, 0, "candidate:1 1 UDP 1 127.0.0.1 1 typ host");
  natter_call_handle_local_candidate (call, 0, "candidate:2 1 UDP 1 127.0.0.1 2 typ host");
  g_assert_cmpstr (host->sent->str, ==, "");

  natter_call_handle_local_description (call, "v=0 offer");
  g_assert_cmpstr (host->sent->str, ==, "RC:VCInvite NT:VCIce NT:VCIce");

  invite = g_ptr_array_index (host->contents, 0);
  g_assert_cmpstr (json_object_get_string_member (invite, "sdp"), ==, "v=0 offer");
  g_assert_cmpint (json_object_get_int_member (invite, "mediaType"), ==, NATTER_CALL_MEDIA_AUDIO);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (invite, "inviteUserIds"), 0),
                   ==, PEER);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (host->contents, 2), "candidate"),
                   ==, "candidate:2 1 UDP 1 127.0.0.1 2 typ host");
}

/* The callee says which device rings; the caller keeps the valid ids of
 * every device that rings, once each, and none when Ringing says none. */
static void
test_ringing_devices (void)
{
  g_autoptr(TestHost) callee_host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(TestHost) caller_host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) callee = new_incoming (callee_host);
  g_autoptr(NatterCall) caller = setup_call (caller_host, S_DIALING);
  const char * const *devices;

  natter_call_set_self_device_id (callee, "bob-phone");
  natter_call_start (callee);
  g_assert_cmpstr (callee_host->sent->str, ==, "RC:VCRinging");
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (callee_host->contents, 0), "deviceId"),
                   ==, "bob-phone");

  g_assert_null (natter_call_get_ringing_devices (caller)[0]);
  feed_message (caller, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\"}");
  g_assert_cmpint (natter_call_get_state (caller), ==, NATTER_CALL_STATE_RINGING);
  g_assert_null (natter_call_get_ringing_devices (caller)[0]);
  feed_message (caller, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\",\"deviceId\":\"bob-phone\"}");
  feed_message (caller, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\",\"deviceId\":\"bob-desk\"}");
  feed_message (caller, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\",\"deviceId\":\"bob-phone\"}");
  feed_message (caller, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\",\"deviceId\":\"../etc\"}");
  feed_message (caller, PEER, NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"call-1\",\"deviceId\":7}");
  devices = natter_call_get_ringing_devices (caller);
  g_assert_cmpuint (g_strv_length ((char **) devices), ==, 2);
  g_assert_cmpstr (devices[0], ==, "bob-phone");
  g_assert_cmpstr (devices[1], ==, "bob-desk");
}

static void
test_hangup_crosses_accept (void)
{
  g_autoptr(TestHost) caller_host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(TestHost) callee_host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) caller = setup_call (caller_host, S_RINGING);
  g_autoptr(NatterCall) callee = setup_call (callee_host, S_INCOMING);

  /* Both act before either hears of the other. */
  natter_call_hangup (caller);
  natter_call_accept (callee);
  natter_call_handle_local_description (callee, "v=0 answer");

  feed_message (callee, PEER, NATTER_OBJECT_CALL_HANGUP, "{\"callId\":\"call-1\",\"reason\":1}");
  feed_message (caller, PEER, NATTER_OBJECT_CALL_ACCEPT,
                "{\"callId\":\"call-1\",\"mediaType\":2,\"sdp\":\"v=0\"}");

  g_assert_cmpint (natter_call_get_state (caller), ==, ENDED);
  g_assert_cmpint (natter_call_get_reason (caller), ==, NATTER_CALL_REASON_CANCEL);
  g_assert_cmpint (natter_call_get_state (callee), ==, ENDED);
  g_assert_cmpint (natter_call_get_reason (callee), ==, NATTER_CALL_REASON_REMOTE_CANCEL);
  g_assert_cmpuint (caller_host->ended_count, ==, 1);
  g_assert_cmpuint (callee_host->ended_count, ==, 1);
}

/* Accepted before the host can make media (its TURN credentials are on
 * their way): the call is active at once, its answer waits for the host. */
static void
test_accept_waits_for_media (void)
{
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) call = setup_call (host, S_INCOMING);
  g_autoptr(NatterCall) second = NULL;
  g_autofree char *timers = NULL;

  host->media_waits = TRUE;
  host_clear (host);
  natter_call_accept (call);
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ACTIVE);
  g_assert_cmpuint (host->media_made, ==, 0);
  g_assert_cmpstr (host->sent->str, ==, "");
  timers = host_timers (host);
  g_assert_cmpstr (timers, ==, "C");  /* the connect timer bounds the wait */

  host->media_waits = FALSE;
  natter_call_handle_media_ready (call);
  g_assert_cmpuint (host->media_made, ==, 1);
  natter_call_handle_media_ready (call);  /* once */
  g_assert_cmpuint (host->media_made, ==, 1);
  natter_call_handle_local_description (call, "v=0 answer");
  g_assert_cmpstr (host->sent->str, ==, NATTER_OBJECT_CALL_ACCEPT);

  /* Hung up while it waits: no media made after. */
  host->media_waits = TRUE;
  host->media_made = 0;
  second = setup_call (host, S_INCOMING);
  natter_call_accept (second);
  natter_call_hangup (second);
  natter_call_handle_media_ready (second);
  g_assert_cmpint (natter_call_get_state (second), ==, NATTER_CALL_STATE_ENDED);
  g_assert_cmpuint (host->media_made, ==, 0);

  /* A host that never waits makes media on accept. */
  host->media_waits = FALSE;
  g_clear_object (&second);
  second = setup_call (host, S_INCOMING);
  natter_call_accept (second);
  g_assert_cmpuint (host->media_made, ==, 1);
}

static void
test_glare (void)
{
  g_autoptr(TestHost) alice_host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(TestHost) bob_host = g_object_new (TEST_TYPE_HOST, NULL);
  /* alice → bob as "x-1" and bob → alice as "y-1" at the same time. */
  g_autoptr(NatterCall) alice = natter_call_new_outgoing (NATTER_CALL_HOST (alice_host), "x-1",
                                                          "alice", "bob", NATTER_CALL_MEDIA_VIDEO);
  g_autoptr(NatterCall) bob = natter_call_new_outgoing (NATTER_CALL_HOST (bob_host), "y-1",
                                                        "bob", "alice", NATTER_CALL_MEDIA_VIDEO);

  natter_call_start (alice);
  natter_call_start (bob);
  natter_call_handle_local_description (alice, "v=0");
  natter_call_handle_local_description (bob, "v=0");
  host_clear (alice_host);
  host_clear (bob_host);

  /* Each sees the other's invite: the smaller call id wins on both sides. */
  g_assert_cmpint (natter_call_resolve_glare (alice, "bob", "y-1"), ==, NATTER_CALL_GLARE_WIN);
  g_assert_cmpint (natter_call_resolve_glare (bob, "alice", "x-1"), ==, NATTER_CALL_GLARE_LOSE);

  g_assert_cmpint (natter_call_get_state (alice), ==, DIALING);
  g_assert_cmpint (natter_call_get_state (bob), ==, ENDED);
  /* The loser leaves no trace: no message, no summary. */
  g_assert_cmpstr (bob_host->sent->str, ==, "");
  g_assert_null (bob_host->summary);
  g_assert_cmpuint (bob_host->ended_count, ==, 1);

  /* Not a glare: another user, our own call id, or a call already up. */
  g_assert_cmpint (natter_call_resolve_glare (alice, "carol", "a-0"), ==, NATTER_CALL_GLARE_NONE);
  g_assert_cmpint (natter_call_resolve_glare (alice, "bob", "x-1"), ==, NATTER_CALL_GLARE_NONE);
  feed_message (alice, "bob", NATTER_OBJECT_CALL_ACCEPT, "{\"callId\":\"x-1\",\"mediaType\":2,\"sdp\":\"v=0\"}");
  g_assert_cmpint (natter_call_resolve_glare (alice, "bob", "a-0"), ==, NATTER_CALL_GLARE_NONE);
}

static void
test_glare_before_start (void)
{
  /* Our call still waits for TURN credentials (IDLE, no invite sent) when
   * theirs arrives: the same rule, not a busy refusal. */
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) winner = natter_call_new_outgoing (NATTER_CALL_HOST (host), "a-0", "alice", "bob",
                                                           NATTER_CALL_MEDIA_AUDIO);
  g_autoptr(NatterCall) loser = natter_call_new_outgoing (NATTER_CALL_HOST (host), "z-9", "alice", "bob",
                                                          NATTER_CALL_MEDIA_AUDIO);

  g_assert_cmpint (natter_call_resolve_glare (winner, "bob", "b-1"), ==, NATTER_CALL_GLARE_WIN);
  g_assert_cmpint (natter_call_get_state (winner), ==, IDLE);
  g_assert_cmpint (natter_call_resolve_glare (loser, "bob", "b-1"), ==, NATTER_CALL_GLARE_LOSE);
  g_assert_cmpint (natter_call_get_state (loser), ==, ENDED);
  g_assert_cmpstr (host->sent->str, ==, "");
  g_assert_null (host->summary);
  g_assert_cmpuint (host->ended_count, ==, 1);

  /* Starting it later changes nothing. */
  natter_call_start (loser);
  g_assert_cmpint (natter_call_get_state (loser), ==, ENDED);
  g_assert_cmpstr (host->sent->str, ==, "");
}

static void
test_glare_loser_accepts (void)
{
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) call = new_incoming (host);

  /* The loser of a glare takes the winner's call at once. */
  natter_call_set_auto_accept (call, TRUE);
  natter_call_start (call);
  g_assert_cmpint (natter_call_get_state (call), ==, ACTIVE);
  g_assert_cmpstr (host->sent->str, ==, "RC:VCRinging");
  natter_call_handle_local_description (call, "v=0 answer");
  g_assert_cmpstr (host->sent->str, ==, "RC:VCRinging RC:VCAccept");
}

static void
test_summary (void)
{
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) call = setup_call (host, S_ACTIVE_OUT);
  JsonObject *summary;

  g_usleep (20 * 1000);
  natter_call_hangup (call);
  summary = host->summary;
  g_assert_nonnull (summary);
  g_assert_cmpstr (json_object_get_string_member (summary, "caller"), ==, SELF);
  g_assert_cmpstr (json_object_get_string_member (summary, "inviter"), ==, SELF);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (summary, "memberIdList"), 0),
                   ==, PEER);
  g_assert_cmpint (json_object_get_int_member (summary, "mediaType"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (summary, "status"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (summary, "startTime"), >, 0);
  g_assert_cmpint (json_object_get_int_member (summary, "connectedTime"), >=,
                   json_object_get_int_member (summary, "startTime"));
  g_assert_cmpint (natter_call_get_duration (call), >=, 20);
  /* Seconds in the summary. */
  g_assert_cmpint (json_object_get_int_member (summary, "duration"), ==,
                   (natter_call_get_duration (call) + 500) / 1000);

  /* Never connected: no connected time, no duration. */
  {
    g_autoptr(TestHost) host2 = g_object_new (TEST_TYPE_HOST, NULL);
    g_autoptr(NatterCall) missed = setup_call (host2, S_INCOMING);

    natter_call_handle_timer (missed, NATTER_CALL_TIMER_NO_ANSWER);
    g_assert_cmpstr (json_object_get_string_member (host2->summary, "caller"), ==, PEER);
    g_assert_cmpint (json_object_get_int_member (host2->summary, "connectedTime"), ==, 0);
    g_assert_cmpint (json_object_get_int_member (host2->summary, "duration"), ==, 0);
    g_assert_cmpint (json_object_get_int_member (host2->summary, "status"), ==, 5);
  }
}

static void
test_bad_invites (void)
{
  const char *bad[] = {
    "{}",
    "{\"callId\":\"\",\"mediaType\":2}",
    "{\"callId\":7,\"mediaType\":2}",
    "{\"callId\":\"c\"}",
    "{\"callId\":\"c\",\"mediaType\":3}",
    "{\"callId\":\"c\",\"mediaType\":\"video\"}",
    "{\"callId\":\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"mediaType\":1}",
  };
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonObject) invite = parse_object (bad[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterCall) call = natter_call_new_incoming (NATTER_CALL_HOST (host), SELF, PEER,
                                                             invite, &error);

      g_assert_null (call);
      g_assert_error (error, G_IO_ERROR, NATTER_CODE_INVALID_PARAMETER);
    }
}

static void
test_camera_and_mute (void)
{
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) call = setup_call (host, S_ACTIVE_OUT);
  JsonObject *modify;

  host_clear (host);
  natter_call_set_muted (call, TRUE);
  g_assert_true (natter_call_get_muted (call));
  g_assert_cmpstr (host->sent->str, ==, "");

  /* Camera off is told to the peer, never renegotiated. */
  natter_call_set_camera_enabled (call, FALSE);
  g_assert_cmpstr (host->sent->str, ==, "RC:VCModifyMedia");
  modify = g_ptr_array_index (host->contents, 0);
  g_assert_cmpint (json_object_get_int_member (modify, "mediaType"), ==, NATTER_CALL_MEDIA_AUDIO);
  natter_call_set_camera_enabled (call, FALSE);
  g_assert_cmpstr (host->sent->str, ==, "RC:VCModifyMedia");
  natter_call_set_camera_enabled (call, TRUE);
  g_assert_cmpstr (host->sent->str, ==, "RC:VCModifyMedia RC:VCModifyMedia");

  g_assert_true (natter_call_get_remote_camera_enabled (call));
  feed_message (call, PEER, NATTER_OBJECT_CALL_MODIFY_MEDIA, "{\"callId\":\"call-1\",\"mediaType\":1}");
  g_assert_false (natter_call_get_remote_camera_enabled (call));
  feed_message (call, PEER, NATTER_OBJECT_CALL_MODIFY_MEDIA, "{\"callId\":\"call-1\",\"mediaType\":2}");
  g_assert_true (natter_call_get_remote_camera_enabled (call));
}

static void
test_default_timers (void)
{
  /* The interface's own timers: a GSource per (call, timer), restarted by
   * a second start and gone with stop. */
  g_autoptr(TestHost) host = g_object_new (TEST_TYPE_HOST, NULL);
  g_autoptr(NatterCall) call = setup_call (host, S_INCOMING);
  NatterCallHostInterface *iface = g_type_default_interface_ref (NATTER_TYPE_CALL_HOST);
  NatterCallHostInterface *defaults = iface;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  defaults->start_timer (NATTER_CALL_HOST (host), call, NATTER_CALL_TIMER_NO_ANSWER, 10);
  defaults->start_timer (NATTER_CALL_HOST (host), call, NATTER_CALL_TIMER_CONNECT, 5000);
  defaults->stop_timer (NATTER_CALL_HOST (host), call, NATTER_CALL_TIMER_CONNECT);
  while (natter_call_get_state (call) != ENDED)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (natter_call_get_reason (call), ==, NATTER_CALL_REASON_NO_RESPONSE);
  g_type_default_interface_unref (iface);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_stack_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/call/machine/table", test_table);
  g_test_add_func ("/call/machine/candidates-wait-for-description", test_candidates_wait_for_description);
  g_test_add_func ("/call/machine/hangup-crosses-accept", test_hangup_crosses_accept);
  g_test_add_func ("/call/machine/ringing-devices", test_ringing_devices);
  g_test_add_func ("/call/machine/accept-waits-for-media", test_accept_waits_for_media);
  g_test_add_func ("/call/machine/glare", test_glare);
  g_test_add_func ("/call/machine/glare-before-start", test_glare_before_start);
  g_test_add_func ("/call/machine/glare-loser-accepts", test_glare_loser_accepts);
  g_test_add_func ("/call/machine/summary", test_summary);
  g_test_add_func ("/call/machine/bad-invites", test_bad_invites);
  g_test_add_func ("/call/machine/camera-and-mute", test_camera_and_mute);
  g_test_add_func ("/call/machine/default-timers", test_default_timers);

  return g_test_run ();
}
