/* natter-call-host.h — what a NatterCall needs from the world
 *
 * A call is a pure state machine: events come in through the
 * natter_call_handle_*() functions (natter-call-private.h) and everything it
 * does goes out through its host: signalling messages, timers, media and the
 * summary at the end. NatterCallManager is the host over NatterClient; the
 * unit test is a host that records, the media test one that wires two calls
 * together in-process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _NatterCall NatterCall;
typedef struct _NatterCallMedia NatterCallMedia;

typedef enum {
  NATTER_CALL_TIMER_NO_ANSWER,  /* 30 s from invite to accept */
  NATTER_CALL_TIMER_CONNECT,    /* from accept to the first remote media */
  NATTER_CALL_N_TIMERS
} NatterCallTimer;

#define NATTER_CALL_NO_ANSWER_TIMEOUT_MS 30000
#define NATTER_CALL_CONNECT_TIMEOUT_MS   10000

#define NATTER_TYPE_CALL_HOST (natter_call_host_get_type ())
G_DECLARE_INTERFACE (NatterCallHost, natter_call_host, NATTER, CALL_HOST, GObject)

struct _NatterCallHostInterface
{
  GTypeInterface parent_iface;

  /* A status-only message to the call's peer. Failure comes back through
   * natter_call_handle_send_failed(). */
  void             (*send)         (NatterCallHost  *self,
                                    NatterCall      *call,
                                    const char      *object_name,
                                    JsonObject      *content);
  /* Default: a GSource on the thread-default context that calls
   * natter_call_handle_timer(). Starting a running timer restarts it. */
  void             (*start_timer)  (NatterCallHost  *self,
                                    NatterCall      *call,
                                    NatterCallTimer  timer,
                                    guint            timeout_ms);
  void             (*stop_timer)   (NatterCallHost  *self,
                                    NatterCall      *call,
                                    NatterCallTimer  timer);
  /* Media for the call, or NULL to run signalling only. Default: NULL. */
  NatterCallMedia *(*create_media) (NatterCallHost  *self,
                                    NatterCall      *call);
  /* Whether create_media() would give the media all it needs now (TURN
   * credentials). FALSE holds an accepted call's media until the host
   * calls natter_call_handle_media_ready(). Default: TRUE. */
  gboolean         (*media_ready)  (NatterCallHost  *self,
                                    NatterCall      *call);
  /* The call reached ENDED; @summary is its RC:VCSummary content, NULL for
   * a call that leaves no trace (the loser of a glare). */
  void             (*ended)        (NatterCallHost  *self,
                                    NatterCall      *call,
                                    JsonObject      *summary);
};

void             natter_call_host_send         (NatterCallHost  *self,
                                                NatterCall      *call,
                                                const char      *object_name,
                                                JsonObject      *content);
void             natter_call_host_start_timer  (NatterCallHost  *self,
                                                NatterCall      *call,
                                                NatterCallTimer  timer,
                                                guint            timeout_ms);
void             natter_call_host_stop_timer   (NatterCallHost  *self,
                                                NatterCall      *call,
                                                NatterCallTimer  timer);
NatterCallMedia *natter_call_host_create_media (NatterCallHost  *self,
                                                NatterCall      *call);
gboolean         natter_call_host_media_ready  (NatterCallHost  *self,
                                                NatterCall      *call);
void             natter_call_host_ended        (NatterCallHost  *self,
                                                NatterCall      *call,
                                                JsonObject      *summary);

const char      *natter_call_timer_to_string   (NatterCallTimer  timer);

G_END_DECLS
