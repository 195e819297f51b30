/* natterd-health.c — GET /healthz
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <json-glib/json-glib.h>

#include "natter-codes.h"
#include "natterd-health.h"
#include "natterd-server-private.h"

/* A store that has not completed a write barrier by then is not writing. */
#define PROBE_TIMEOUT_MS 2000

typedef struct
{
  char               *name;
  NatterdHealthCheck  check;
  gpointer            data;
} Check;

struct _NatterdHealth
{
  NatterdServer *server;
  GArray        *checks;          /* Check, in the order they were added */

  /* The store probe: a BARRIER op through the writer. */
  gint64         probe_submitted; /* monotonic µs, 0 = none outstanding */
  char          *probe_error;     /* how the last one failed, or NULL */
  guint          probe_timeout_id;
  GPtrArray     *waiting;         /* SoupServerMessage, paused until the probe is done */
};

static void
check_clear (gpointer data)
{
  Check *check = data;

  g_free (check->name);
}

void
natterd_health_add_check (NatterdServer      *server,
                          const char         *name,
                          NatterdHealthCheck  check,
                          gpointer            data)
{
  Check entry = { g_strdup (name), check, data };

  g_return_if_fail (NATTERD_IS_SERVER (server));
  g_return_if_fail (name != NULL && check != NULL);

  g_array_append_val (server->health->checks, entry);
}

/* ------------------------------------------------------------ the store */

/* Healthy when the writer is not refusing (out of space), not closed, and
 * its last barrier went through within PROBE_TIMEOUT_MS. */
static gboolean
store_check (gpointer   data,
             char     **reason)
{
  NatterdHealth *self = data;
  gint64 outstanding = self->probe_submitted == 0 ? 0 : g_get_monotonic_time () - self->probe_submitted;

  if (self->server->shutting_down)
    {
      *reason = g_strdup ("closed: natterd is stopping");
      return FALSE;
    }
  if (outstanding >= (gint64) PROBE_TIMEOUT_MS * 1000)
    {
      *reason = g_strdup_printf ("no write completed for %" G_GINT64_FORMAT " ms", outstanding / 1000);
      return FALSE;
    }
  if (self->probe_error != NULL)
    {
      *reason = g_strdup (self->probe_error);
      return FALSE;
    }
  if (natterd_store_is_full (self->server->store))
    {
      *reason = g_strdup ("out of space: writes are refused");
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------- answering */

static void
respond (NatterdHealth     *self,
         SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *failed = NULL;
  char *json;

  for (guint i = 0; i < self->checks->len && failed == NULL; i++)
    {
      Check *check = &g_array_index (self->checks, Check, i);
      g_autofree char *reason = NULL;

      if (!check->check (check->data, &reason))
        failed = g_strdup_printf ("%s: %s", check->name, reason != NULL ? reason : "failing");
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, failed == NULL ? 200 : NATTER_CODE_SERVER_ERROR);
  if (failed != NULL)
    {
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, failed);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);

  soup_server_message_set_status (msg, failed == NULL ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json, strlen (json));
}

static void
on_message_finished (SoupServerMessage *msg,
                     gpointer           user_data)
{
  NatterdHealth *self = user_data;

  /* The client went away (or natterd stops): nothing to answer. */
  g_signal_handlers_disconnect_by_data (msg, self);
  g_ptr_array_remove_fast (self->waiting, msg);
}

static void
respond_waiting (NatterdHealth *self)
{
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&self->waiting);

  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiting->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (waiting, i);

      g_signal_handlers_disconnect_by_data (msg, self);
      respond (self, msg);
      soup_server_message_unpause (msg);
    }
}

static gboolean
probe_timed_out (gpointer user_data)
{
  NatterdHealth *self = user_data;

  /* The probe stays outstanding: the store check fails until it is done. */
  self->probe_timeout_id = 0;
  respond_waiting (self);
  return G_SOURCE_REMOVE;
}

static void
probe_done (NatterdOp *op,
            gpointer   user_data)
{
  NatterdHealth *self = user_data;

  self->probe_submitted = 0;
  g_clear_pointer (&self->probe_error, g_free);
  if (op->error != NULL)
    self->probe_error = g_strdup (op->error->message);
  g_clear_handle_id (&self->probe_timeout_id, g_source_remove);
  respond_waiting (self);
}

void
natterd_health_handle_request (SoupServer        *soup,
                               SoupServerMessage *msg,
                               const char        *path,
                               GHashTable        *query,
                               gpointer           user_data)
{
  NatterdServer *server = user_data;
  NatterdHealth *self = server->health;
  const char *method = soup_server_message_get_method (msg);

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  if (server->shutting_down)
    {
      respond (self, msg);
      return;
    }

  /* Answered once the writer has taken a barrier through (or could not),
   * so the answer is about now; requests meanwhile share the probe. */
  soup_server_message_pause (msg);
  g_ptr_array_add (self->waiting, g_object_ref (msg));
  g_signal_connect (msg, "finished", G_CALLBACK (on_message_finished), self);
  if (self->probe_timeout_id == 0)
    self->probe_timeout_id = g_timeout_add (PROBE_TIMEOUT_MS, probe_timed_out, self);
  if (self->probe_submitted == 0)
    {
      self->probe_submitted = MAX (g_get_monotonic_time (), 1);
      /* May complete at once (a closed store). */
      natterd_store_submit (server->store, natterd_op_new (NATTERD_OP_BARRIER, probe_done, self, NULL));
    }
}

/* -------------------------------------------------------------- lifetime */

NatterdHealth *
natterd_health_new (NatterdServer *server)
{
  NatterdHealth *self = g_new0 (NatterdHealth, 1);

  self->server = server;
  self->checks = g_array_new (FALSE, TRUE, sizeof (Check));
  g_array_set_clear_func (self->checks, check_clear);
  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  /* Not natterd_health_add_check (): server->health is not set yet. */
  g_array_append_vals (self->checks, &(Check) { g_strdup ("store"), store_check, self }, 1);
  return self;
}

void
natterd_health_free (NatterdHealth *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->probe_timeout_id, g_source_remove);
  for (guint i = 0; i < self->waiting->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->waiting, i), self);
  g_ptr_array_unref (self->waiting);
  g_array_unref (self->checks);
  g_free (self->probe_error);
  g_free (self);
}
