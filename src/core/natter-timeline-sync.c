/* natter-timeline-sync.c — group timelines: live messages, gaps, sync after connecting
 *
 * natter.v2 keeps a group's (or discussion's) messages on its timeline,
 * not in the user's inbox (docs/protocol.md, "Group timelines"). Live
 * ones come as Deliver with seq 0 and are stored here, never acked; the
 * store keeps per conversation how far it holds the timeline without a
 * gap (natter-store-timelines.c). A live message past a gap has the gap
 * fetched with the timeline query. After the inbox replay of a connection,
 * timeline_sync (paged, since the sync_time of the last complete sync,
 * kept in the store as "timeline-sync-time") names the timelines that
 * moved; each gets the server's unread count and "@" mark, and what this
 * device lacks of it is fetched: at most the newest
 * NATTER_TIMELINE_FETCH_MAX, never before the user's first_seq nor after
 * their last_seq. Older messages are history, which a chat loads when it
 * is scrolled back (natter-message-list.c). One conversation has one
 * fetch running at a time: a live gap and the sync for the same group
 * join it (a catch-up to the highest seq either wants).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-timeline-sync.h"

#include <string.h>

#include "natter-client-private.h"
#include "natter-message-private.h"
#include "natter-store-private.h"

#define SYNC_TIME_KEY   "timeline-sync-time"
#define SYNC_PAGE_LIMIT 200
/* natterd's query-rate refuses beyond it (20604): ask again after this,
 * and from then on fetch at half its default rate (20 a second), so the
 * app's own queries (history, names) still get through. */
#define TOO_FAST_RETRY_MS 1000
#define PACED_INTERVAL_US (G_USEC_PER_SEC / 10)

/* One conversation being brought up to @target. */
typedef struct {
  NatterConversationType type;
  char *target_id;
  guint64 held;                 /* held without a gap (the store's, as last seen) */
  guint64 target;               /* fetch through this seq */
  guint64 floor;                /* nothing at or before it is the user's */
  gboolean running;
  GSList *waiters;              /* GTask, returned when caught up */
  GError *error;                /* the first failure of this catch-up */
} Catchup;

/* One timeline named by the sync, waiting for its turn. */
typedef struct {
  NatterConversationType type;
  char *target_id;
  NatterTimelineState state;
  guint64 first_seq;
  guint64 last_seq;
} PendingState;

struct _NatterTimelineSync
{
  GObject parent_instance;

  NatterClient *client;         /* weak: the client owns this */
  gboolean enabled;
  guint generation;             /* one per connection: older callbacks are dropped */
  gboolean started;
  gboolean done;
  GHashTable *catchups;         /* "type:target" -> Catchup */
  gboolean paced;               /* refused as too fast on this connection */
  gint64 last_query;            /* monotonic µs */

  /* The sync of this connection. */
  gint64 since;
  gint64 sync_time;             /* the first page's */
  char *cursor;
  GQueue states;                /* PendingState */
  gboolean failed;              /* a timeline could not be fetched: keep `since` */
};

G_DEFINE_FINAL_TYPE (NatterTimelineSync, natter_timeline_sync, G_TYPE_OBJECT)

static void
catchup_free (Catchup *catchup)
{
  g_free (catchup->target_id);
  g_slist_free_full (catchup->waiters, g_object_unref);
  g_clear_error (&catchup->error);
  g_free (catchup);
}

static void
pending_state_free (PendingState *pending)
{
  g_free (pending->target_id);
  g_free (pending);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PendingState, pending_state_free)

/* What an async step keeps: the object and the connection it was for. */
typedef struct {
  NatterTimelineSync *self;
  guint generation;
  char *key;                    /* the catch-up it is for, or NULL */
  guint64 after;
  guint64 through;
  gboolean skip;
} Step;

static Step *
step_new (NatterTimelineSync *self,
          const char         *key)
{
  Step *step = g_new0 (Step, 1);

  step->self = g_object_ref (self);
  step->generation = self->generation;
  step->key = g_strdup (key);
  return step;
}

static void
step_free (Step *step)
{
  g_object_unref (step->self);
  g_free (step->key);
  g_free (step);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Step, step_free)

static gboolean
step_is_current (Step *step)
{
  return step->self->client != NULL && step->generation == step->self->generation;
}

static NatterStore *
get_store (NatterTimelineSync *self)
{
  return natter_client_get_store (self->client);
}

/* New messages are news: for the app, the cli and names to fetch. */
static void
announce (NatterTimelineSync *self,
          GPtrArray          *added)
{
  for (guint i = 0; i < added->len && self->client != NULL; i++)
    {
      NatterMessage *message = g_ptr_array_index (added, i);

      if (natter_client_get_profile_fetcher (self->client) != NULL)
        natter_profile_fetcher_note (natter_client_get_profile_fetcher (self->client), message);
      natter_client_emit_message_received (self->client, message);
    }
}

/* ---------------------------------------------------------------- catch-up */

static void catchup_step (NatterTimelineSync *self,
                          const char         *key);

static void
catchup_finish (NatterTimelineSync *self,
                const char         *key)
{
  Catchup *catchup = NULL;
  g_autofree char *stolen_key = NULL;

  if (!g_hash_table_steal_extended (self->catchups, key, (gpointer *) &stolen_key, (gpointer *) &catchup))
    return;

  for (GSList *l = catchup->waiters; l != NULL; l = l->next)
    {
      if (catchup->error != NULL)
        g_task_return_error (l->data, g_error_copy (catchup->error));
      else
        g_task_return_boolean (l->data, TRUE);
    }
  catchup_free (catchup);
}

static void
catchup_fail (NatterTimelineSync *self,
              const char         *key,
              GError             *error)
{
  Catchup *catchup = g_hash_table_lookup (self->catchups, key);

  if (catchup != NULL && catchup->error == NULL)
    catchup->error = g_error_copy (error);
  catchup_finish (self, key);
}

static gboolean
is_too_fast (const GError *error)
{
  return g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_SEND_TOO_FAST);
}

static gboolean
catchup_retry_cb (gpointer user_data)
{
  Step *step = user_data;
  Catchup *catchup;

  if (step_is_current (step) && (catchup = g_hash_table_lookup (step->self->catchups, step->key)) != NULL)
    {
      catchup->running = FALSE;
      catchup_step (step->self, step->key);
    }
  return G_SOURCE_REMOVE;
}

static void
fetched_stored_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(GPtrArray) added = NULL;
  g_autoptr(GError) error = NULL;
  Catchup *catchup;
  guint64 held = 0;

  added = natter_store_add_timeline_finish (NATTER_STORE (object), result, &held, &error);
  if (!step_is_current (step))
    return;

  catchup = g_hash_table_lookup (self->catchups, step->key);
  if (catchup == NULL)
    return;
  catchup->running = FALSE;

  if (added == NULL)
    {
      catchup_fail (self, step->key, error);
      return;
    }

  announce (self, added);

  /* A server that answers without moving would keep us asking forever. */
  if (held <= catchup->held && held < catchup->target)
    {
      g_autoptr(GError) stuck = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                                             "Timeline %d:%s does not move past %" G_GUINT64_FORMAT,
                                             catchup->type, catchup->target_id, held);

      catchup_fail (self, step->key, stuck);
      return;
    }

  catchup->held = held;
  catchup_step (self, step->key);
}

static void
timeline_result_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) updates = NULL;
  const Natter__TimelineResult *timeline;
  Catchup *catchup;
  guint64 last = 0, after, through;
  gboolean skip;

  frame = g_task_propagate_pointer (G_TASK (result), &error);
  if (!step_is_current (step) || (catchup = g_hash_table_lookup (self->catchups, step->key)) == NULL)
    return;

  if (frame != NULL && frame->result->payload_case != NATTER__RESULT__PAYLOAD_TIMELINE)
    error = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                         "Server answered a timeline query with something else");
  if (is_too_fast (error))
    {
      self->paced = TRUE;
      /* Still running: nothing else asks for this timeline meanwhile. */
      g_timeout_add_full (G_PRIORITY_DEFAULT, TOO_FAST_RETRY_MS, catchup_retry_cb,
                          g_steal_pointer (&step), (GDestroyNotify) step_free);
      return;
    }
  if (error != NULL)
    {
      catchup->running = FALSE;
      catchup_fail (self, step->key, error);
      return;
    }

  timeline = frame->result->timeline;
  messages = g_ptr_array_new_with_free_func (g_object_unref);
  updates = g_ptr_array_new_with_free_func (g_object_unref);
  for (gsize i = 0; i < timeline->n_messages; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(NatterMessage) message = NULL;

      last = MAX (last, timeline->messages[i]->timeline_seq);
      message = natter_message_new_from_proto (timeline->messages[i],
                                               natter_client_get_user_id (self->client), TRUE,
                                               &local_error);
      if (message == NULL)
        g_message ("Ignoring message %s: %s", timeline->messages[i]->message_uid, local_error->message);
      else if (natter_message_get_kind (message) == NATTER_MESSAGE_KIND_RECALL_COMMAND ||
               natter_message_get_kind (message) == NATTER_MESSAGE_KIND_EDIT_COMMAND ||
               natter_message_get_kind (message) == NATTER_MESSAGE_KIND_EXPANSION_COMMAND ||
               natter_message_get_kind (message) == NATTER_MESSAGE_KIND_RECEIPT_REQUEST)
        /* Applied once the page (likely holding their message) is stored. */
        g_ptr_array_add (updates, g_steal_pointer (&message));
      else if (natter_message_is_persisted (message) &&
               natter_message_get_conversation_type (message) == catchup->type &&
               g_strcmp0 (natter_message_get_target_id (message), catchup->target_id) == 0)
        g_ptr_array_add (messages, g_steal_pointer (&message));
    }

  if (timeline->has_more && last <= step->after)
    {
      g_autoptr(GError) empty = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                                             "Timeline %d:%s: more, but nothing after %" G_GUINT64_FORMAT,
                                             catchup->type, catchup->target_id, step->after);

      catchup->running = FALSE;
      catchup_fail (self, step->key, empty);
      return;
    }

  /* Nothing more: the timeline is here through what was asked (a removed
   * member's timeline ends at their last_seq, before it). */
  after = step->after;
  through = timeline->has_more ? last : MAX (last, catchup->target);
  skip = step->skip;
  natter_store_add_timeline_async (get_store (self), catchup->type, catchup->target_id, messages,
                                   after, through, skip, NULL, fetched_stored_cb, g_steal_pointer (&step));
  /* The store runs jobs in order: these come after the page. */
  for (guint i = 0; i < updates->len; i++)
    natter_client_apply_update (self->client, g_ptr_array_index (updates, i), NULL, NULL);
}

static void
catchup_step (NatterTimelineSync *self,
              const char         *key)
{
  Catchup *catchup = g_hash_table_lookup (self->catchups, key);
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__TimelineRequest request = NATTER__TIMELINE_REQUEST__INIT;
  guint64 after;
  gint64 wait;
  Step *step;

  if (catchup == NULL || catchup->running)
    return;

  if (catchup->held >= catchup->target || self->client == NULL)
    {
      catchup_finish (self, key);
      return;
    }

  /* The newest NATTER_TIMELINE_FETCH_MAX at most, none before the join. */
  after = MAX (catchup->held, catchup->floor);
  if (catchup->target - MIN (after, catchup->target) > NATTER_TIMELINE_FETCH_MAX)
    after = catchup->target - NATTER_TIMELINE_FETCH_MAX;

  step = step_new (self, key);
  step->after = after;
  step->skip = after > catchup->held;
  catchup->running = TRUE;

  if (after >= catchup->target)
    {
      /* Nothing of it is the user's: held through the target all the same. */
      natter_store_add_timeline_async (get_store (self), catchup->type, catchup->target_id, NULL,
                                       after, catchup->target, TRUE, NULL, fetched_stored_cb, step);
      return;
    }

  wait = self->paced ? self->last_query + PACED_INTERVAL_US - g_get_monotonic_time () : 0;
  if (wait > 0)
    {
      g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) (wait / 1000) + 1, catchup_retry_cb, step,
                          (GDestroyNotify) step_free);
      return;
    }
  self->last_query = g_get_monotonic_time ();

  request.conversation_type = catchup->type;
  request.target_id = catchup->target_id;
  request.after_seq = after;
  request.count = (guint32) MIN (catchup->target - after, NATTER_TIMELINE_FETCH_MAX);
  query.method_case = NATTER__QUERY__METHOD_TIMELINE;
  query.timeline = &request;
  task = g_task_new (self, NULL, timeline_result_cb, step);
  natter_client_send_query (self->client, &query, task);
}

/* Brings a conversation to @target (from @held, never at or before @floor);
 * @waiter (may be NULL) returns once it is there or failed. */
static void
catch_up (NatterTimelineSync     *self,
          NatterConversationType  type,
          const char             *target_id,
          guint64                 held,
          guint64                 target,
          guint64                 floor,
          GTask                  *waiter)
{
  g_autofree char *key = natter_conversation_key (type, target_id);
  Catchup *catchup = g_hash_table_lookup (self->catchups, key);

  if (catchup == NULL)
    {
      catchup = g_new0 (Catchup, 1);
      catchup->type = type;
      catchup->target_id = g_strdup (target_id);
      g_hash_table_insert (self->catchups, g_strdup (key), catchup);
    }

  catchup->held = MAX (catchup->held, held);
  catchup->target = MAX (catchup->target, target);
  catchup->floor = MAX (catchup->floor, floor);
  if (waiter != NULL)
    catchup->waiters = g_slist_prepend (catchup->waiters, g_object_ref (waiter));

  catchup_step (self, key);
}

/* ------------------------------------------------------------------- live */

static void
live_stored_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(GPtrArray) added = NULL;
  g_autoptr(GError) error = NULL;
  guint64 held = 0;

  added = natter_store_add_timeline_finish (NATTER_STORE (object), result, &held, &error);
  if (added == NULL)
    {
      g_warning ("Cannot store a group message: %s", error->message);
      return;
    }
  if (self->client == NULL)
    return;

  announce (self, added);

  /* A gap before it: fetch it (this connection only). */
  if (held < step->through && step_is_current (step))
    {
      const char *colon = strchr (step->key, ':');

      catch_up (self, (NatterConversationType) g_ascii_strtoll (step->key, NULL, 10), colon + 1,
                held, step->through, 0, NULL);
    }
}

gboolean
natter_timeline_sync_deliver (NatterTimelineSync *self,
                              NatterMessage      *message)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  guint64 seq = natter_message_get_timeline_seq (message);
  NatterMessageKind kind = natter_message_get_kind (message);
  gboolean take;
  Step *step;

  g_return_val_if_fail (NATTER_IS_TIMELINE_SYNC (self), FALSE);
  g_return_val_if_fail (seq > 0, FALSE);

  take = natter_message_is_persisted (message) &&
         kind != NATTER_MESSAGE_KIND_RECALL_COMMAND &&
         kind != NATTER_MESSAGE_KIND_EDIT_COMMAND &&
         kind != NATTER_MESSAGE_KIND_EXPANSION_COMMAND &&
         kind != NATTER_MESSAGE_KIND_RECEIPT_REQUEST &&
         kind != NATTER_MESSAGE_KIND_SYNC_READ_STATUS &&
         kind != NATTER_MESSAGE_KIND_READ_NOTIFICATION;
  if (take)
    g_ptr_array_add (messages, g_object_ref (message));

  step = step_new (self, NULL);
  step->key = natter_conversation_key (natter_message_get_conversation_type (message),
                                       natter_message_get_target_id (message));
  step->through = seq;
  natter_store_add_timeline_async (get_store (self), natter_message_get_conversation_type (message),
                                   natter_message_get_target_id (message), messages, seq - 1, seq,
                                   FALSE, NULL, live_stored_cb, step);
  return take;
}

/* ------------------------------------------------------------------- sync */

static void sync_next_state (NatterTimelineSync *self);
static void sync_request_page (NatterTimelineSync *self);

static void
sync_done (NatterTimelineSync *self)
{
  self->done = TRUE;
  if (self->client != NULL)
    natter_client_timelines_synced (self->client);
}

/* The next connection tries again from the same `since`; until then what
 * came live is what there is. A lost connection stops everything anyway. */
static void
sync_fail (NatterTimelineSync *self,
           const GError       *error)
{
  g_queue_clear_full (&self->states, (GDestroyNotify) pending_state_free);
  if (self->client == NULL || !natter_client_is_connected (self->client))
    return;
  g_message ("Cannot sync group timelines: %s", error->message);
  sync_done (self);
}

static void
state_caught_up_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(GError) error = NULL;

  if (!step_is_current (step))
    return;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!natter_client_is_connected (self->client))
        return;
      /* One timeline the server would not give: the others still come. */
      g_message ("Cannot fetch timeline %s: %s", step->key, error->message);
      self->failed = TRUE;
    }

  sync_next_state (self);
}

static void
state_applied_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(PendingState) pending = NULL;
  g_autoptr(GTask) waiter = NULL;
  guint64 held = 0;
  guint64 target;

  if (!natter_store_apply_timeline_state_finish (NATTER_STORE (object), result, &held, &error))
    {
      g_warning ("Cannot store the state of timeline %s: %s", step->key, error->message);
      self->failed = TRUE;
    }
  if (!step_is_current (step) || (pending = g_queue_pop_head (&self->states)) == NULL)
    return;

  target = pending->last_seq > 0 ? MIN (pending->state.latest_seq, pending->last_seq)
                                 : pending->state.latest_seq;
  if (error != NULL || held >= target)
    {
      sync_next_state (self);
      return;
    }

  waiter = g_task_new (self, NULL, state_caught_up_cb, step_new (self, step->key));
  catch_up (self, pending->type, pending->target_id, held, target,
            pending->first_seq > 0 ? pending->first_seq - 1 : 0, waiter);
}

static void
sync_time_saved_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_store_set_value_finish (NATTER_STORE (object), result, &error))
    g_warning ("Cannot keep the time of the timeline sync: %s", error->message);
  if (step_is_current (step))
    sync_done (step->self);
}

static void
sync_next_state (NatterTimelineSync *self)
{
  PendingState *pending = g_queue_peek_head (&self->states);

  if (pending != NULL)
    {
      g_autofree char *key = natter_conversation_key (pending->type, pending->target_id);

      natter_store_apply_timeline_state_async (get_store (self), pending->type, pending->target_id,
                                               &pending->state, NULL, state_applied_cb,
                                               step_new (self, key));
      return;
    }

  if (self->cursor != NULL && *self->cursor != '\0')
    {
      sync_request_page (self);
      return;
    }

  /* Complete: the next sync asks only what moved after this one began. */
  if (!self->failed && self->sync_time > 0)
    {
      g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT, self->sync_time);

      natter_store_set_value_async (get_store (self), SYNC_TIME_KEY, value, NULL, sync_time_saved_cb,
                                    step_new (self, NULL));
      return;
    }
  sync_done (self);
}

static gboolean
sync_retry_cb (gpointer user_data)
{
  Step *step = user_data;

  if (step_is_current (step))
    sync_request_page (step->self);
  return G_SOURCE_REMOVE;
}

static void
sync_page_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  const Natter__TimelineSyncResult *page;

  frame = g_task_propagate_pointer (G_TASK (result), &error);
  if (!step_is_current (step))
    return;

  if (frame != NULL && frame->result->payload_case != NATTER__RESULT__PAYLOAD_TIMELINE_SYNC)
    error = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                         "Server answered a timeline sync with something else");
  if (is_too_fast (error))
    {
      self->paced = TRUE;
      g_timeout_add_full (G_PRIORITY_DEFAULT, TOO_FAST_RETRY_MS, sync_retry_cb, g_steal_pointer (&step),
                          (GDestroyNotify) step_free);
      return;
    }
  if (error != NULL)
    {
      sync_fail (self, error);
      return;
    }

  page = frame->result->timeline_sync;
  if (self->cursor == NULL)
    self->sync_time = page->sync_time;

  for (gsize i = 0; i < page->n_timelines; i++)
    {
      const Natter__TimelineState *state = page->timelines[i];
      PendingState *pending;

      if (!NATTER_CONVERSATION_TYPE_HAS_TIMELINE (state->conversation_type) ||
          !natter_id_is_valid (state->target_id))
        continue;

      pending = g_new0 (PendingState, 1);
      pending->type = state->conversation_type;
      pending->target_id = g_strdup (state->target_id);
      pending->state.latest_seq = state->latest_seq;
      pending->state.read_seq = state->read_seq;
      pending->state.unread_count = state->unread_count;
      pending->state.mentioned = state->mentioned;
      pending->state.updated_time = state->updated_time;
      pending->first_seq = state->first_seq;
      pending->last_seq = state->last_seq;
      g_queue_push_tail (&self->states, pending);
    }

  /* A cursor that does not move would loop forever. */
  g_free (self->cursor);
  self->cursor = page->n_timelines > 0 ? g_strdup (page->next_cursor) : NULL;
  if (self->cursor == NULL)
    self->cursor = g_strdup ("");
  sync_next_state (self);
}

static void
sync_request_page (NatterTimelineSync *self)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, sync_page_cb, step_new (self, NULL));
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__TimelineSyncRequest request = NATTER__TIMELINE_SYNC_REQUEST__INIT;

  request.since = self->since;
  request.cursor = self->cursor != NULL ? self->cursor : (char *) "";
  request.limit = SYNC_PAGE_LIMIT;
  query.method_case = NATTER__QUERY__METHOD_TIMELINE_SYNC;
  query.timeline_sync = &request;
  natter_client_send_query (self->client, &query, task);
}

static void
since_loaded_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Step) step = user_data;
  NatterTimelineSync *self = step->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *value = natter_store_get_value_finish (NATTER_STORE (object), result, &error);

  if (!step_is_current (step))
    return;
  if (error != NULL)
    {
      sync_fail (self, error);
      return;
    }

  self->since = value != NULL ? g_ascii_strtoll (value, NULL, 10) : 0;
  sync_request_page (self);
}

void
natter_timeline_sync_start (NatterTimelineSync *self)
{
  g_return_if_fail (NATTER_IS_TIMELINE_SYNC (self));

  if (self->started || self->client == NULL)
    return;

  self->started = TRUE;
  self->done = !self->enabled;
  self->failed = FALSE;
  self->paced = FALSE;
  self->sync_time = 0;
  g_clear_pointer (&self->cursor, g_free);
  if (self->done)
    return;

  natter_store_get_value_async (get_store (self), SYNC_TIME_KEY, NULL, since_loaded_cb,
                                step_new (self, NULL));
}

void
natter_timeline_sync_stop (NatterTimelineSync *self)
{
  g_return_if_fail (NATTER_IS_TIMELINE_SYNC (self));

  self->generation++;
  self->started = FALSE;
  self->done = FALSE;
  g_queue_clear_full (&self->states, (GDestroyNotify) pending_state_free);
  g_clear_pointer (&self->cursor, g_free);

  /* Fetches of the old connection end (their results are dropped). */
  {
    g_autoptr(GError) error = natter_client_error_new (NATTER_CODE_NOT_CONNECTED, NULL);
    g_autoptr(GList) keys = g_hash_table_get_keys (self->catchups);

    for (GList *l = keys; l != NULL; l = l->next)
      {
        g_autofree char *key = g_strdup (l->data);

        catchup_fail (self, key, error);
      }
  }
}

gboolean
natter_timeline_sync_is_started (NatterTimelineSync *self)
{
  g_return_val_if_fail (NATTER_IS_TIMELINE_SYNC (self), FALSE);
  return self->started;
}

gboolean
natter_timeline_sync_is_done (NatterTimelineSync *self)
{
  g_return_val_if_fail (NATTER_IS_TIMELINE_SYNC (self), FALSE);
  return self->started && self->done;
}

void
natter_timeline_sync_set_enabled (NatterTimelineSync *self,
                                  gboolean            enabled)
{
  g_return_if_fail (NATTER_IS_TIMELINE_SYNC (self));
  self->enabled = enabled;
}

/* ----------------------------------------------------------------- GObject */

static void
natter_timeline_sync_dispose (GObject *object)
{
  NatterTimelineSync *self = (NatterTimelineSync *) object;

  if (self->client != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->client), (gpointer *) &self->client);
  self->client = NULL;
  natter_timeline_sync_stop (self);

  G_OBJECT_CLASS (natter_timeline_sync_parent_class)->dispose (object);
}

static void
natter_timeline_sync_finalize (GObject *object)
{
  NatterTimelineSync *self = (NatterTimelineSync *) object;

  g_hash_table_unref (self->catchups);

  G_OBJECT_CLASS (natter_timeline_sync_parent_class)->finalize (object);
}

static void
natter_timeline_sync_class_init (NatterTimelineSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_timeline_sync_dispose;
  object_class->finalize = natter_timeline_sync_finalize;
}

static void
natter_timeline_sync_init (NatterTimelineSync *self)
{
  self->enabled = TRUE;
  self->catchups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) catchup_free);
  g_queue_init (&self->states);
}

NatterTimelineSync *
natter_timeline_sync_new (NatterClient *client)
{
  NatterTimelineSync *self = g_object_new (NATTER_TYPE_TIMELINE_SYNC, NULL);

  self->client = client;
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &self->client);
  return self;
}
