/* natter-call-host.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-host.h"
#include "natter-call-private.h"

G_DEFINE_INTERFACE (NatterCallHost, natter_call_host, G_TYPE_OBJECT)

static const char * const timer_keys[NATTER_CALL_N_TIMERS] = {
  "natter-call-timer-no-answer",
  "natter-call-timer-connect",
};

typedef struct
{
  NatterCall      *call;  /* unowned: the source is destroyed with the call's data */
  NatterCallTimer  timer;
} TimerData;

static gboolean
default_timer_fired (gpointer user_data)
{
  TimerData *data = user_data;
  g_autoptr(NatterCall) call = g_object_ref (data->call);
  NatterCallTimer timer = data->timer;

  /* Forget the source before the call reacts (it may restart the timer). */
  g_object_set_data (G_OBJECT (call), timer_keys[timer], NULL);
  natter_call_handle_timer (call, timer);

  return G_SOURCE_REMOVE;
}

static void
destroy_source (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
}

static void
default_start_timer (NatterCallHost  *self,
                     NatterCall      *call,
                     NatterCallTimer  timer,
                     guint            timeout_ms)
{
  GSource *source = g_timeout_source_new (timeout_ms);
  TimerData *data = g_new0 (TimerData, 1);

  data->call = call;
  data->timer = timer;
  g_source_set_callback (source, default_timer_fired, data, g_free);
  g_source_set_static_name (source, timer_keys[timer]);
  g_source_attach (source, g_main_context_get_thread_default ());
  g_object_set_data_full (G_OBJECT (call), timer_keys[timer], source, destroy_source);
}

static void
default_stop_timer (NatterCallHost  *self,
                    NatterCall      *call,
                    NatterCallTimer  timer)
{
  g_object_set_data (G_OBJECT (call), timer_keys[timer], NULL);
}

static NatterCallMedia *
default_create_media (NatterCallHost *self,
                      NatterCall     *call)
{
  return NULL;
}

static gboolean
default_media_ready (NatterCallHost *self,
                     NatterCall     *call)
{
  return TRUE;
}

static void
natter_call_host_default_init (NatterCallHostInterface *iface)
{
  iface->start_timer = default_start_timer;
  iface->stop_timer = default_stop_timer;
  iface->create_media = default_create_media;
  iface->media_ready = default_media_ready;
}

void
natter_call_host_send (NatterCallHost *self,
                       NatterCall     *call,
                       const char     *object_name,
                       JsonObject     *content)
{
  g_return_if_fail (NATTER_IS_CALL_HOST (self));
  NATTER_CALL_HOST_GET_IFACE (self)->send (self, call, object_name, content);
}

void
natter_call_host_start_timer (NatterCallHost  *self,
                              NatterCall      *call,
                              NatterCallTimer  timer,
                              guint            timeout_ms)
{
  g_return_if_fail (NATTER_IS_CALL_HOST (self));
  g_return_if_fail (timer < NATTER_CALL_N_TIMERS);
  NATTER_CALL_HOST_GET_IFACE (self)->start_timer (self, call, timer, timeout_ms);
}

void
natter_call_host_stop_timer (NatterCallHost  *self,
                             NatterCall      *call,
                             NatterCallTimer  timer)
{
  g_return_if_fail (NATTER_IS_CALL_HOST (self));
  g_return_if_fail (timer < NATTER_CALL_N_TIMERS);
  NATTER_CALL_HOST_GET_IFACE (self)->stop_timer (self, call, timer);
}

NatterCallMedia *
natter_call_host_create_media (NatterCallHost *self,
                               NatterCall     *call)
{
  g_return_val_if_fail (NATTER_IS_CALL_HOST (self), NULL);
  return NATTER_CALL_HOST_GET_IFACE (self)->create_media (self, call);
}

gboolean
natter_call_host_media_ready (NatterCallHost *self,
                              NatterCall     *call)
{
  g_return_val_if_fail (NATTER_IS_CALL_HOST (self), TRUE);
  return NATTER_CALL_HOST_GET_IFACE (self)->media_ready (self, call);
}

void
natter_call_host_ended (NatterCallHost *self,
                        NatterCall     *call,
                        JsonObject     *summary)
{
  NatterCallHostInterface *iface;

  g_return_if_fail (NATTER_IS_CALL_HOST (self));
  iface = NATTER_CALL_HOST_GET_IFACE (self);
  if (iface->ended != NULL)
    iface->ended (self, call, summary);
}

const char *
natter_call_timer_to_string (NatterCallTimer timer)
{
  switch (timer)
    {
    case NATTER_CALL_TIMER_NO_ANSWER:
      return "no-answer";
    case NATTER_CALL_TIMER_CONNECT:
      return "connect";
    case NATTER_CALL_N_TIMERS:
    default:
      return "unknown";
    }
}
