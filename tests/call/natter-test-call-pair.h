/* natter-test-call-pair.h — two in-process call endpoints
 *
 * Each endpoint is a NatterCallHost with real NatterCallMedia; what one
 * sends reaches the other one main-loop turn later, as JSON text, the way
 * the network would hand it over. An invite creates the callee's call.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-call-private.h"
#include "natter-call-media.h"

G_BEGIN_DECLS

#define TEST_TYPE_ENDPOINT (test_endpoint_get_type ())
G_DECLARE_FINAL_TYPE (TestEndpoint, test_endpoint, TEST, ENDPOINT, GObject)

struct _TestEndpoint
{
  GObject          parent_instance;
  char            *user_id;
  TestEndpoint    *peer;           /* unowned */
  NatterCall      *call;
  NatterCallMedia *media;          /* the last one created */
  guint            media_alive;    /* created and not yet finalized */
  gboolean         offline;        /* drops what it sends (a vanished peer) */
  gboolean         auto_accept;
  guint            ended;
  JsonObject      *summary;
};

typedef struct
{
  TestEndpoint *alice;
  TestEndpoint *bob;
} Pair;

typedef gboolean (*Condition) (Pair *pair);

void             pair_setup    (Pair                *pair,
                                gconstpointer        data);
void             pair_teardown (Pair                *pair,
                                gconstpointer        data);
/* Runs the main loop until @condition or @seconds; FALSE on timeout. */
gboolean         wait_for      (Pair                *pair,
                                Condition            condition,
                                guint                seconds);
/* Runs the main loop for a moment so nothing pending outlives a test. */
void             drain         (void);
/* alice calls bob. */
NatterCall      *dial          (Pair                *pair,
                                NatterCallMediaType  media_type,
                                const char          *call_id);
NatterCallState  state_of      (TestEndpoint        *endpoint);
/* The mean brightness (0–255) of the middle of @call's last remote video
 * frame: the test pattern is bright, a missing camera's frames black.
 * FALSE while there is no frame. */
gboolean         pair_remote_brightness (NatterCall   *call,
                                         guint64      *brightness);

/* After gst_init: a device provider of the test's own becomes the only one
 * the process's GstDeviceMonitor uses (the real ones ranked out, so a
 * machine with a camera or sound card starts without devices all the
 * same). */
void             pair_use_test_devices_only (void);
/* Plugs in a device of @device_class ("Audio/Source", "Video/Source")
 * named @display_name whose element is @element (gst-launch syntax); the
 * monitor's bus announces it as a real provider would. */
void             pair_plug_in  (const char          *device_class,
                                const char          *display_name,
                                const char          *element);
/* Buffers that went through the elements made of that plugged-in device. */
guint            pair_device_buffers (const char *display_name);
/* Removes every device pair_plug_in() plugged in. */
void             pair_unplug_all (void);

G_END_DECLS
