/* natterd-queries.c — Query frames: history, conversations, chatrooms,
 * unread, recall, TURN credentials, online status, profiles
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"
#include "natterd-parse-private.h"
#include "natter-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define CONVERSATION_LIST_DEFAULT_LIMIT 100
#define CHATROOM_JOIN_DEFAULT_COUNT 10

typedef struct
{
  NatterdServer  *server;       /* not a ref: the server outlives its sessions */
  NatterdSession *session;
  NatterdUser    *user;         /* the session's */
  guint32         request_id;
  gint64          received;
  int             count;        /* chatroom join */
  char           *chatroom_id;
} QueryContext;

static QueryContext *
query_context_new (NatterdServer       *server,
                   NatterdSession      *session,
                   const Natter__Query *query)
{
  QueryContext *context = g_new0 (QueryContext, 1);

  context->server = server;
  context->session = g_object_ref (session);
  context->user = natterd_session_get_user (session);
  natterd_session_query_started (session);
  context->request_id = query->request_id;
  context->received = g_get_monotonic_time ();
  return context;
}

static void
query_context_free (gpointer data)
{
  QueryContext *context = data;

  natterd_session_query_finished (context->session);
  g_object_unref (context->session);
  g_free (context->chatroom_id);
  g_free (context);
}

/* Sends @result (request_id and code filled in here). */
static void
send_result (QueryContext   *context,
             Natter__Result *result,
             int             code,
             const char     *error_message)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  NatterdServer *server = context->server;

  result->request_id = context->request_id;
  result->code = code;
  result->error_message = (char *) (error_message != NULL ? error_message :
                                    code != 0 ? natter_code_to_string (code) : "");
  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = result;
  natterd_session_send_frame (context->session, &frame);

  natterd_histogram_observe (&server->metrics->query_latency, natterd_latency_buckets,
                             (double) (g_get_monotonic_time () - context->received) / G_USEC_PER_SEC);
}

/* Encoded size of @result: pages are trimmed to fit in one frame (20
 * messages of 128 KiB each would not). */
static gsize
result_size (Natter__Result *result)
{
  NatterFrame frame = NATTER__FRAME__INIT;

  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = result;
  return natter__frame__get_packed_size (&frame);
}

#define RESULT_MAX_SIZE (NATTER_FRAME_MAX_SIZE - 1024)


/* What one more entry of a repeated message field (number < 16) adds. */
static gsize
entry_size (gsize packed)
{
  return 1 + natter_frame_varint_size (packed) + packed;
}

/* How many of @messages fit in @room bytes, taken from the first (@step 1)
 * or the last (-1): each is measured once (a page used to be shrunk one
 * entry at a time, measuring every entry again each time: quadratic on
 * the main loop). At least one, if there is one. */
static guint
messages_that_fit (Natter__Message * const *messages,
                   guint                    n,
                   gssize                   step,
                   gsize                    room)
{
  gsize used = 0;
  guint fit = 0;

  for (guint i = 0; i < n; i++)
    {
      used += entry_size (natter__message__get_packed_size (messages[step > 0 ? i : n - 1 - i]));
      if (used > room && fit > 0)
        break;
      fit++;
    }
  return fit;
}

static void
send_code (QueryContext *context,
           int           code,
           const char   *error_message)
{
  Natter__Result result = NATTER__RESULT__INIT;

  send_result (context, &result, code, error_message);
}

/* Protocol messages for @messages as @viewer sees them; the strings stay
 * @messages'; free *storage and the returned array. */
static Natter__Message **
messages_to_proto (NatterdMessage * const *messages,
                   guint                   n,
                   const char             *viewer,
                   Natter__Message       **storage)
{
  Natter__Message **pointers = g_new0 (Natter__Message *, MAX (n, 1));

  *storage = g_new0 (Natter__Message, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      natter__message__init (&(*storage)[i]);
      natterd_message_to_proto (messages[i], viewer, &(*storage)[i]);
      pointers[i] = &(*storage)[i];
    }
  return pointers;
}

/* The readers the store gave with @messages (the asker's own group
 * messages, #16) into @storage; @owned keeps what they need. */
static void
attach_readers (NatterdMessage * const *messages,
                guint                   n,
                Natter__Message        *storage,
                GPtrArray              *owned)
{
  for (guint i = 0; i < n; i++)
    {
      GPtrArray *readers = messages[i]->readers;
      Natter__Reader *block;
      Natter__Reader **pointers;

      if (readers == NULL || readers->len == 0)
        continue;
      block = g_new (Natter__Reader, readers->len);
      pointers = g_new (Natter__Reader *, readers->len);
      g_ptr_array_add (owned, block);
      g_ptr_array_add (owned, pointers);
      for (guint r = 0; r < readers->len; r++)
        {
          NatterdReader *reader = g_ptr_array_index (readers, r);

          natter__reader__init (&block[r]);
          block[r].user_id = reader->user_id;
          block[r].read_time = reader->read_time;
          pointers[r] = &block[r];
        }
      storage[i].n_readers = readers->len;
      storage[i].readers = pointers;
    }
}

/* ----------------------------------------------------------------- history */

static void
history_read (NatterdRead *base,
              gpointer     user_data)
{
  NatterdHistoryRead *read = (NatterdHistoryRead *) base;
  QueryContext *context = user_data;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__HistoryResult history = NATTER__HISTORY_RESULT__INIT;
  g_autofree Natter__Message *messages = NULL;
  g_autofree Natter__Message **pointers = NULL;
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  gsize room;
  guint n;

  /* Nobody to answer: a page is not built for a closed connection. */
  if (natterd_session_get_state (context->session) == NATTERD_SESSION_CLOSED)
    return;
  if (base->error != NULL)
    {
      send_code (context, NATTER_CODE_SERVER_ERROR, "History could not be read");
      return;
    }
  if (read->not_member)
    {
      send_code (context, NATTER_CODE_NOT_IN_GROUP, NULL);
      return;
    }

  /* One more than asked was read, to tell whether there is more. */
  n = MIN (read->messages->len, read->limit - 1);
  pointers = messages_to_proto ((NatterdMessage * const *) read->messages->pdata, n,
                                context->user->user_id, &messages);
  attach_readers ((NatterdMessage * const *) read->messages->pdata, n, messages, owned);
  history.n_messages = n;
  history.messages = pointers;
  history.has_more = read->messages->len > n;
  result.payload_case = NATTER__RESULT__PAYLOAD_HISTORY;
  result.history = &history;
  /* Newest first: what does not fit is the older end, still to come. The
   * room is what the page without messages leaves, has_more included. */
  history.n_messages = 0;
  room = RESULT_MAX_SIZE - result_size (&result) - 2;
  history.n_messages = messages_that_fit (pointers, n, 1, room);
  if (history.n_messages < n)
    history.has_more = TRUE;
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static void
query_history (NatterdServer                *self,
               QueryContext                 *context,
               const Natter__HistoryRequest *request)
{
  NatterdUser *user = context->user;
  NatterdHistoryRead *read;
  gint64 from_time = 0;

  if (request->conversation_type == NATTER_CONVERSATION_CHATROOM)
    {
      send_code (context, NATTER_CODE_INVALID_PARAMETER, "Chatrooms have no history");
      query_context_free (context);
      return;
    }

  if (request->conversation_type == NATTER_CONVERSATION_GROUP ||
      request->conversation_type == NATTER_CONVERSATION_DISCUSSION)
    {
      /* What the member may read of the timeline: from their join on
       * (from the start with group-history-before-join), up to their
       * leaving; the store knows, for members of now and before. */
      read = natterd_read_new (NATTERD_READ_HISTORY, history_read, context, query_context_free);
      read->member_id = user->id;
      read->timeline_id = g_strdup (request->target_id);
    }
  else
    read = natterd_read_new (NATTERD_READ_HISTORY, history_read, context, query_context_free);

  read->from_time = from_time;
  read->user_id = user->id;
  read->target_id = g_strdup (request->target_id);
  read->app_id = user->app->id;
  read->channel = natterd_channel_key (request->conversation_type, user->user_id, request->target_id);
  read->before_time = request->before_time;
  read->limit = request->count + 1;
  natterd_store_read (self->store, read);
}

/* ------------------------------------------------------------ conversations */

/* "1:<time>:<type>:<target id>" at most */
#define CONVERSATION_CURSOR_MAX (2 + 21 + 2 + NATTER_ID_MAX_LENGTH)

char *
natterd_conversation_cursor_format (const NatterdConversation *c)
{
  return g_strdup_printf ("%d:%" G_GINT64_FORMAT ":%d:%s", c->pinned ? 1 : 0, c->updated_time,
                          c->conversation_type, c->target_id);
}

gboolean
natterd_conversation_cursor_parse (const char               *cursor,
                                   NatterdConversationsRead *read)
{
  g_auto(GStrv) parts = g_strsplit (cursor, ":", 4);
  gint64 pinned, time, type;

  if (g_strv_length (parts) != 4 ||
      !g_ascii_string_to_signed (parts[0], 10, 0, 1, &pinned, NULL) ||
      !g_ascii_string_to_signed (parts[1], 10, G_MININT64, G_MAXINT64, &time, NULL) ||
      !g_ascii_string_to_signed (parts[2], 10, 1, 8, &type, NULL) ||
      !natter_id_is_valid (parts[3]))
    return FALSE;

  read->has_cursor = TRUE;
  read->cursor_pinned = pinned != 0;
  read->cursor_time = time;
  read->cursor_type = (int) type;
  read->cursor_target = g_strdup (parts[3]);
  return TRUE;
}

static void
conversations_read (NatterdRead *base,
                    gpointer     user_data)
{
  NatterdConversationsRead *read = (NatterdConversationsRead *) base;
  QueryContext *context = user_data;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__ConversationListResult list = NATTER__CONVERSATION_LIST_RESULT__INIT;
  g_autofree Natter__Conversation *conversations = NULL;
  g_autofree Natter__Conversation **pointers = NULL;
  g_autofree Natter__Message *latest = NULL;
  g_autofree char *next = NULL;
  guint n;

  if (natterd_session_get_state (context->session) == NATTERD_SESSION_CLOSED)
    return;
  if (base->error != NULL)
    {
      send_code (context, NATTER_CODE_SERVER_ERROR, "Conversations could not be read");
      return;
    }

  n = MIN (read->conversations->len, read->limit - 1);
  conversations = g_new0 (Natter__Conversation, MAX (n, 1));
  pointers = g_new0 (Natter__Conversation *, MAX (n, 1));
  latest = g_new0 (Natter__Message, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      NatterdConversation *c = g_ptr_array_index (read->conversations, i);
      Natter__Conversation *out = &conversations[i];

      natter__conversation__init (out);
      out->conversation_type = c->conversation_type;
      out->target_id = c->target_id;
      out->unread_count = c->unread;
      out->pinned = c->pinned;
      out->muted = c->muted;
      out->updated_time = c->updated_time;
      if (c->latest != NULL)
        {
          natter__message__init (&latest[i]);
          natterd_message_to_proto (c->latest, context->user->user_id, &latest[i]);
          /* A group's "@" mark: an unread message mentions the user. */
          latest[i].mentioned = c->mentioned;
          out->latest_message = &latest[i];
        }
      pointers[i] = out;
    }

  list.conversations = pointers;
  list.next_cursor = (char *) "";
  result.payload_case = NATTER__RESULT__PAYLOAD_CONVERSATION_LIST;
  result.conversation_list = &list;
  {
    /* Latest messages are previews of at most 1 KiB (the store made them),
     * so a page of 1,000 fits; should one not, it ends where the frame is
     * full, its cursor where it ends. Each entry is measured once. */
    gsize room = RESULT_MAX_SIZE - result_size (&result) - 2 - CONVERSATION_CURSOR_MAX;
    gsize used = 0;
    guint fit = 0;

    while (fit < n)
      {
        used += entry_size (natter__conversation__get_packed_size (pointers[fit]));
        if (used > room && fit > 0)
          break;
        fit++;
      }
    list.n_conversations = fit;
  }
  if (read->conversations->len > list.n_conversations && list.n_conversations > 0)
    next = natterd_conversation_cursor_format (
      g_ptr_array_index (read->conversations, list.n_conversations - 1));
  list.next_cursor = next != NULL ? next : (char *) "";
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static void
query_conversations (NatterdServer                         *self,
                     QueryContext                          *context,
                     const Natter__ConversationListRequest *request)
{
  NatterdConversationsRead *read = natterd_read_new (NATTERD_READ_CONVERSATIONS, conversations_read,
                                                     context, query_context_free);

  read->user_id = context->user->id;
  read->limit = (request->limit > 0 ? request->limit : CONVERSATION_LIST_DEFAULT_LIMIT) + 1;
  for (gsize i = 0; i < request->n_types; i++)
    g_array_append_val (read->types, request->types[i]);

  if (request->cursor != NULL && *request->cursor != '\0' &&
      !natterd_conversation_cursor_parse (request->cursor, read))
    {
      send_code (context, NATTER_CODE_INVALID_PARAMETER, "Unknown cursor");
      natterd_read_free (&read->base);
      return;
    }
  natterd_store_read (self->store, read);
}

/* ---------------------------------------------------------------- timelines */

#define TIMELINE_SYNC_DEFAULT_LIMIT 200

/* "<sync_time>:<last target id>": later pages keep the first's sync time. */
static void
timeline_sync_read (NatterdRead *base,
                    gpointer     user_data)
{
  NatterdTimelineSyncRead *read = (NatterdTimelineSyncRead *) base;
  QueryContext *context = user_data;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__TimelineSyncResult sync = NATTER__TIMELINE_SYNC_RESULT__INIT;
  g_autofree Natter__TimelineState *states = NULL;
  g_autofree Natter__TimelineState **pointers = NULL;
  g_autofree char *next = NULL;
  guint n;

  if (natterd_session_get_state (context->session) == NATTERD_SESSION_CLOSED)
    return;
  if (base->error != NULL)
    {
      send_code (context, NATTER_CODE_SERVER_ERROR, "Timelines could not be read");
      return;
    }

  /* One more than asked was read, to tell whether there is more. A
   * TimelineState is at most ~110 bytes: 1,000 fit in a frame. */
  n = MIN (read->timelines->len, read->limit - 1);
  states = g_new0 (Natter__TimelineState, MAX (n, 1));
  pointers = g_new0 (Natter__TimelineState *, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      NatterdTimelineState *state = g_ptr_array_index (read->timelines, i);
      Natter__TimelineState *out = &states[i];

      natter__timeline_state__init (out);
      out->conversation_type = state->conversation_type;
      out->target_id = state->target_id;
      out->latest_seq = state->latest_seq;
      out->read_seq = state->read_seq;
      out->unread_count = state->unread;
      out->mentioned = state->mentioned;
      out->first_seq = state->first_seq;
      out->last_seq = state->last_seq;
      out->updated_time = state->updated_time;
      pointers[i] = out;
    }
  if (read->timelines->len > n && n > 0)
    next = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", read->sync_time,
                            ((NatterdTimelineState *) g_ptr_array_index (read->timelines, n - 1))->target_id);
  sync.n_timelines = n;
  sync.timelines = pointers;
  sync.next_cursor = next != NULL ? next : (char *) "";
  sync.sync_time = read->sync_time;
  result.payload_case = NATTER__RESULT__PAYLOAD_TIMELINE_SYNC;
  result.timeline_sync = &sync;
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static void
query_timeline_sync (NatterdServer                     *self,
                     QueryContext                      *context,
                     const Natter__TimelineSyncRequest *request)
{
  NatterdTimelineSyncRead *read = natterd_read_new (NATTERD_READ_TIMELINE_SYNC, timeline_sync_read,
                                                    context, query_context_free);

  read->user_id = context->user->id;
  read->app_id = context->user->app->id;
  read->since = request->since;
  read->limit = (request->limit > 0 ? request->limit : TIMELINE_SYNC_DEFAULT_LIMIT) + 1;
  if (request->cursor != NULL && *request->cursor != '\0')
    {
      g_auto(GStrv) parts = g_strsplit (request->cursor, ":", 2);

      if (g_strv_length (parts) != 2 ||
          !g_ascii_string_to_signed (parts[0], 10, 1, G_MAXINT64, &read->sync_time, NULL) ||
          !natter_id_is_valid (parts[1]))
        {
          send_code (context, NATTER_CODE_INVALID_PARAMETER, "Unknown cursor");
          natterd_read_free (&read->base);
          return;
        }
      read->after_target = g_strdup (parts[1]);
    }
  natterd_store_read (self->store, read);
}

static void
timeline_read (NatterdRead *base,
               gpointer     user_data)
{
  NatterdTimelineRead *read = (NatterdTimelineRead *) base;
  QueryContext *context = user_data;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__TimelineResult timeline = NATTER__TIMELINE_RESULT__INIT;
  g_autofree Natter__Message *messages = NULL;
  g_autofree Natter__Message **pointers = NULL;
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  guint n;

  if (natterd_session_get_state (context->session) == NATTERD_SESSION_CLOSED)
    return;
  if (base->error != NULL)
    {
      send_code (context, NATTER_CODE_SERVER_ERROR, "The timeline could not be read");
      return;
    }
  if (!read->found)
    {
      send_code (context, NATTER_CODE_NOT_IN_GROUP, NULL);
      return;
    }

  /* One more than asked was read (or the page ended at its byte bound). */
  n = MIN (read->messages->len, read->limit - 1);
  pointers = messages_to_proto ((NatterdMessage * const *) read->messages->pdata, n,
                                context->user->user_id, &messages);
  attach_readers ((NatterdMessage * const *) read->messages->pdata, n, messages, owned);
  timeline.messages = pointers;
  timeline.n_messages = 0;
  result.payload_case = NATTER__RESULT__PAYLOAD_TIMELINE;
  result.timeline = &timeline;
  /* Oldest first: what does not fit in one frame comes with the next ask. */
  timeline.n_messages = messages_that_fit (pointers, n, 1, RESULT_MAX_SIZE - result_size (&result) - 2);
  /* Seqs have no gaps: anything up to the user's last is more. */
  timeline.has_more = timeline.n_messages > 0 &&
                      ((NatterdMessage *) g_ptr_array_index (read->messages, timeline.n_messages - 1))->timeline_seq <
                      read->last_seq;
  /* Each message once (#18): what this answer gives is not sent live to
   * this device from now on (a fan-out under way may not have reached it:
   * it connected and synced meanwhile). */
  for (gsize i = 0; i < timeline.n_messages; i++)
    natterd_session_timeline_fetched (context->session, read->target_id, pointers[i]->timeline_seq);
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static void
query_timeline (NatterdServer                 *self,
                QueryContext                  *context,
                const Natter__TimelineRequest *request)
{
  NatterdTimelineRead *read = natterd_read_new (NATTERD_READ_TIMELINE, timeline_read, context,
                                                query_context_free);

  read->user_id = context->user->id;
  read->app_id = context->user->app->id;
  read->target_id = g_strdup (request->target_id);
  read->after_seq = request->after_seq;
  read->limit = request->count + 1;
  /* A page of big messages is not read whole to be cut at one frame. */
  read->max_bytes = NATTER_FRAME_MAX_SIZE;
  natterd_store_read (self->store, read);
}

/* ---------------------------------------------------------------- chatrooms */

static void
send_chatroom_join (QueryContext    *context,
                    NatterdChatroom *room)
{
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__ChatroomJoinResult join = NATTER__CHATROOM_JOIN_RESULT__INIT;
  g_autofree Natter__Message *messages = NULL;
  g_autofree Natter__Message **pointers = NULL;
  guint available = g_queue_get_length (&room->recent);
  guint n = context->count < 0 ? 0 : MIN ((guint) context->count, available);
  gsize space;
  g_autoptr(GPtrArray) newest = g_ptr_array_sized_new (MAX (n, 1));

  /* The newest n, oldest first. */
  for (GList *l = g_queue_peek_nth_link (&room->recent, available - n); l != NULL; l = l->next)
    g_ptr_array_add (newest, l->data);
  pointers = messages_to_proto ((NatterdMessage * const *) newest->pdata, n,
                                context->user->user_id, &messages);

  join.n_messages = n;
  join.messages = pointers;
  join.member_count = g_hash_table_size (room->members);
  result.payload_case = NATTER__RESULT__PAYLOAD_CHATROOM_JOIN;
  result.chatroom_join = &join;
  /* Oldest first: the newest that fit in one frame. */
  join.n_messages = 0;
  space = RESULT_MAX_SIZE - result_size (&result);
  join.n_messages = messages_that_fit (pointers, n, -1, space);
  join.messages = pointers + (n - join.n_messages);
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static void
chatroom_joined (NatterdServer   *self,
                 NatterdChatroom *room,
                 int              code,
                 gpointer         user_data)
{
  QueryContext *context = user_data;

  if (code != NATTER_CODE_OK)
    {
      send_code (context, code, NULL);
      query_context_free (context);
      return;
    }

  /* The room's recent messages are in memory only (chatrooms keep no
   * history; a restart empties them). */
  send_chatroom_join (context, room);
  query_context_free (context);
}

static void
query_chatroom_join (NatterdServer                    *self,
                     QueryContext                     *context,
                     const Natter__ChatroomJoinRequest *request)
{
  NatterdUser *user = context->user;

  context->count = request->count == 0 ? CHATROOM_JOIN_DEFAULT_COUNT : request->count;
  context->chatroom_id = g_strdup (request->chatroom_id);
  /* A new room answers once its row is durable (30002 if it cannot be). */
  natterd_server_chatroom_join (self, user->app, user, request->chatroom_id, chatroom_joined, context);
}

/* ------------------------------------------------------- conversation state */

static void
conversation_stored (NatterdOp *op,
                     gpointer   user_data)
{
  send_code (user_data, op->error != NULL ? NATTER_CODE_SERVER_ERROR : NATTER_CODE_OK, NULL);
}

static void
update_conversation (NatterdServer             *self,
                     QueryContext              *context,
                     int                        conversation_type,
                     const char                *target_id,
                     NatterdConversationAction  action,
                     gint64                     time,
                     guint64                    read_seq)
{
  NatterdConversationOp *op = natterd_op_new (NATTERD_OP_CONVERSATION, conversation_stored,
                                              context, query_context_free);

  op->app_id = context->user->app->id;
  op->user_id = context->user->id;
  op->conversation_type = conversation_type;
  op->target_id = g_strdup (target_id);
  op->action = action;
  op->time = time > 0 ? time : natterd_now_ms ();
  op->read_seq = read_seq;
  natterd_store_submit (self->store, op);
}

/* ------------------------------------------------------------------- recall */

/* A recall, edit or expansion back from the store: @refused is the
 * operation's own refusal (0 when the store did it), then the command goes
 * out and the asker hears the code. */
static void
command_committed (NatterdOp      *base,
                   NatterdPending *pending,
                   int             refused)
{
  NatterdRecallOp *op = (NatterdRecallOp *) base;
  NatterdRecallDone done = (NatterdRecallDone) pending->func;

  if (base->error != NULL)
    done (NATTER_CODE_SERVER_ERROR, NULL, pending->user_data);
  else if (refused != NATTER_CODE_OK)
    done (refused, NULL, pending->user_data);
  else
    {
      natterd_server_deliver_committed (pending->server, op->command, pending->origin);
      done (NATTER_CODE_OK, &op->command->message, pending->user_data);
    }
}

static void
recall_committed (NatterdOp *base,
                  gpointer   user_data)
{
  NatterdRecallOp *op = (NatterdRecallOp *) base;

  command_committed (base, user_data, op->found ? NATTER_CODE_OK : NATTER_CODE_RECALL_FAILED);
}

static char *
recall_command_content (const char *message_uid,
                        int         conversation_type,
                        const char *target_id,
                        gint64      sent_time)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "messageUId");
  json_builder_add_string_value (builder, message_uid);
  json_builder_set_member_name (builder, "conversationType");
  json_builder_add_int_value (builder, conversation_type);
  json_builder_set_member_name (builder, "targetId");
  json_builder_add_string_value (builder, target_id);
  json_builder_set_member_name (builder, "sentTime");
  json_builder_add_int_value (builder, sent_time);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/* The command (RC:RcCmd, NT:EditCmd, NT:ExpansionCmd) an operation on a
 * stored message publishes: wherever the message went, persisted (offline
 * devices learn of it), leaving conversation lists alone. Takes @content. */
static NatterdPublishOp *
command_op_new (NatterdServer *self,
                NatterdApp    *app,
                NatterdUser   *sender,
                const char    *channel,
                int            conversation_type,
                const char    *target_id,
                const char    *object_name,
                char          *content)
{
  NatterdPublishOp *command = natterd_op_new (NATTERD_OP_PUBLISH, NULL, NULL, NULL);

  command->app_id = app->id;
  command->sender_id = sender->id;
  command->channel = g_strdup (channel);
  command->message.conversation_type = conversation_type;
  command->message.sender_user_id = g_strdup (sender->user_id);
  command->message.target_id = g_strdup (target_id);
  command->message.object_name = g_strdup (object_name);
  command->message.content = content;
  command->message.flags = natter_object_name_flags (object_name, 0);
  command->message.sent_time = natterd_server_next_sent_time (self, channel);
  command->webhook = (command->message.flags & NATTER_MESSAGE_FLAG_PERSISTED) && app->settings.webhook_url != NULL;
  natterd_server_add_conversation_recipients (self, command, app, sender, conversation_type,
                                              target_id, app->settings.multi_device, FALSE);
  for (guint i = 0; i < command->recipients->len; i++)
    g_array_index (command->recipients, NatterdRecipient, i).conversation = FALSE;
  return command;
}

static void
natterd_server_recall_from (NatterdServer     *self,
                            NatterdSession    *origin,
                            NatterdApp        *app,
                            NatterdUser       *sender,
                            int                conversation_type,
                            const char        *target_id,
                            const char        *message_uid,
                            gint64             sent_time,
                            NatterdRecallDone  done,
                            gpointer           user_data,
                            GDestroyNotify     destroy)
{
  gint64 message_id = natterd_message_uid_to_id (message_uid);
  NatterdRecallOp *op;
  gint64 now = natterd_now_ms ();

  if (message_id <= 0 || !NATTER_CONVERSATION_TYPE_IS_VALID (conversation_type))
    {
      done (NATTER_CODE_RECALL_FAILED, NULL, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  op = natterd_op_new (NATTERD_OP_RECALL, recall_committed,
                       natterd_pending_new (self, origin, G_CALLBACK (done), user_data, destroy),
                       natterd_pending_free);
  op->app_id = app->id;
  op->message_id = message_id;
  op->uid = g_strdup (message_uid);
  op->sender_id = sender->id;
  op->channel = natterd_channel_key (conversation_type, sender->user_id, target_id);
  op->window_start = app->settings.recall_window > 0 ? now - (gint64) app->settings.recall_window * 1000 : 0;
  op->operator_id = g_strdup (sender->user_id);
  op->recall_time = now;

  op->command = command_op_new (self, app, sender, op->channel, conversation_type, target_id,
                                NATTER_OBJECT_RECALL_COMMAND,
                                recall_command_content (message_uid, conversation_type, target_id, sent_time));

  natterd_store_submit (self->store, op);
}

void
natterd_server_recall (NatterdServer     *self,
                       NatterdApp        *app,
                       NatterdUser       *sender,
                       int                conversation_type,
                       const char        *target_id,
                       const char        *message_uid,
                       gint64             sent_time,
                       NatterdRecallDone  done,
                       gpointer           user_data,
                       GDestroyNotify     destroy)
{
  natterd_server_recall_from (self, NULL, app, sender, conversation_type, target_id, message_uid,
                              sent_time, done, user_data, destroy);
}

/* Answers a recall, edit or expansion query with the stored command. */
static void
command_answered (int                   code,
                  const NatterdMessage *command,
                  gpointer              user_data)
{
  QueryContext *context = user_data;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__RecallResult recall = NATTER__RECALL_RESULT__INIT;
  Natter__EditResult edit = NATTER__EDIT_RESULT__INIT;
  Natter__ExpansionResult expansion = NATTER__EXPANSION_RESULT__INIT;
  Natter__Message message = NATTER__MESSAGE__INIT;

  if (code != NATTER_CODE_OK)
    {
      send_code (context, code, NULL);
      return;
    }

  natterd_message_to_proto (command, context->user->user_id, &message);
  if (g_strcmp0 (command->object_name, NATTER_OBJECT_EDIT_COMMAND) == 0)
    {
      edit.edit_command = &message;
      result.payload_case = NATTER__RESULT__PAYLOAD_EDIT;
      result.edit = &edit;
    }
  else if (g_strcmp0 (command->object_name, NATTER_OBJECT_EXPANSION_COMMAND) == 0)
    {
      expansion.expansion_command = &message;
      result.payload_case = NATTER__RESULT__PAYLOAD_EXPANSION;
      result.expansion = &expansion;
    }
  else
    {
      recall.recall_command = &message;
      result.payload_case = NATTER__RESULT__PAYLOAD_RECALL;
      result.recall = &recall;
    }
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

/* --------------------------------------------------------------------- edit */

static void
edit_committed (NatterdOp *base,
                gpointer   user_data)
{
  NatterdRecallOp *op = (NatterdRecallOp *) base;

  command_committed (base, user_data, op->window_passed ? NATTER_CODE_EDIT_WINDOW_PASSED
                                      : !op->found      ? NATTER_CODE_EDIT_FAILED
                                                        : NATTER_CODE_OK);
}

static char *
object_to_string (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

/* Like a recall (natterd_server_recall_from()): the store checks the
 * message and the window, and the NT:EditCmd goes wherever it went. */
static void
natterd_server_edit_from (NatterdServer     *self,
                          NatterdSession    *origin,
                          NatterdApp        *app,
                          NatterdUser       *sender,
                          Natter__EditRequest *request,
                          NatterdRecallDone  done,
                          gpointer           user_data,
                          GDestroyNotify     destroy)
{
  gint64 message_id = natterd_message_uid_to_id (request->message_uid);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonObject) command_content = NULL;
  NatterdRecallOp *op;
  JsonObject *content;
  gint64 now = natterd_now_ms ();
  int code = NATTER_CODE_OK;

  if (request->content == NULL || strlen (request->content) > NATTER_CONTENT_MAX_SIZE ||
      !NATTER_CONVERSATION_TYPE_IS_VALID (request->conversation_type) || request->target_id == NULL ||
      (root = natter_json_parse (request->content, -1, NULL)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    code = NATTER_CODE_INVALID_PARAMETER;
  else if (message_id <= 0 || app->settings.edit_window == 0)
    code = NATTER_CODE_EDIT_FAILED;
  if (code != NATTER_CODE_OK)
    {
      done (code, NULL, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  /* The edited mark travels in the content: history returns it as is. */
  content = json_node_get_object (root);
  json_object_set_int_member (content, "editedTime", now);

  op = natterd_op_new (NATTERD_OP_RECALL, edit_committed,
                       natterd_pending_new (self, origin, G_CALLBACK (done), user_data, destroy),
                       natterd_pending_free);
  op->app_id = app->id;
  op->message_id = message_id;
  op->uid = g_strdup (request->message_uid);
  op->sender_id = sender->id;
  op->channel = natterd_channel_key (request->conversation_type, sender->user_id, request->target_id);
  op->window_start = now - (gint64) app->settings.edit_window * 1000;
  op->operator_id = g_strdup (sender->user_id);
  op->recall_time = now;
  op->edit_content = object_to_string (content);

  command_content = json_object_new ();
  json_object_set_string_member (command_content, "messageUId", request->message_uid);
  json_object_set_int_member (command_content, "conversationType", request->conversation_type);
  json_object_set_string_member (command_content, "targetId", request->target_id);
  json_object_set_int_member (command_content, "sentTime", request->sent_time);
  json_object_set_object_member (command_content, "content", json_object_ref (content));
  json_object_set_int_member (command_content, "editedTime", now);

  op->command = command_op_new (self, app, sender, op->channel, request->conversation_type, request->target_id,
                                NATTER_OBJECT_EDIT_COMMAND, object_to_string (command_content));

  natterd_store_submit (self->store, op);
}

/* ---------------------------------------------------------------- expansion */

static void
expansion_committed (NatterdOp *base,
                     gpointer   user_data)
{
  NatterdRecallOp *op = (NatterdRecallOp *) base;

  command_committed (base, user_data, !op->found ? NATTER_CODE_EXPANSION_NOT_ENABLED : op->expansion_code);
}

/* Like an edit, but any participant may update, and the store merges the
 * update into the content's "expansion" object. */
static void
natterd_server_expansion_from (NatterdServer            *self,
                               NatterdSession           *origin,
                               NatterdApp               *app,
                               NatterdUser              *sender,
                               Natter__ExpansionRequest *request,
                               NatterdRecallDone         done,
                               gpointer                  user_data,
                               GDestroyNotify            destroy)
{
  gint64 message_id = natterd_message_uid_to_id (request->message_uid);
  g_autoptr(JsonObject) command_content = NULL;
  g_autoptr(JsonArray) remove = NULL;
  g_autoptr(GPtrArray) remove_keys = NULL;
  NatterdRecallOp *op;
  JsonObject *set;
  int code = NATTER_CODE_OK;

  if (request->conversation_type == NATTER_CONVERSATION_GROUP)
    {
      NatterdGroup *group = g_hash_table_lookup (app->groups, request->target_id);

      if (group == NULL || natterd_group_lookup_member (group, sender) == NULL)
        code = NATTER_CODE_NOT_IN_GROUP;
    }
  else if (request->conversation_type != NATTER_CONVERSATION_PRIVATE)
    code = NATTER_CODE_EXPANSION_NOT_ENABLED;
  if (code == NATTER_CODE_OK && message_id <= 0)
    code = NATTER_CODE_EXPANSION_NOT_ENABLED;
  if (code != NATTER_CODE_OK)
    {
      done (code, NULL, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  set = json_object_new ();
  for (gsize i = 0; i < request->n_set; i++)
    json_object_set_string_member (set, request->set[i]->key,
                                   request->set[i]->value != NULL ? request->set[i]->value : "");
  remove = json_array_new ();
  remove_keys = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; i < request->n_remove; i++)
    {
      json_array_add_string_element (remove, request->remove[i]);
      g_ptr_array_add (remove_keys, g_strdup (request->remove[i]));
    }
  g_ptr_array_add (remove_keys, NULL);

  op = natterd_op_new (NATTERD_OP_RECALL, expansion_committed,
                       natterd_pending_new (self, origin, G_CALLBACK (done), user_data, destroy),
                       natterd_pending_free);
  op->app_id = app->id;
  op->message_id = message_id;
  op->uid = g_strdup (request->message_uid);
  op->sender_id = sender->id;
  op->channel = natterd_channel_key (request->conversation_type, sender->user_id, request->target_id);
  op->expansion_set = set;
  op->expansion_remove = (GStrv) g_ptr_array_free (g_steal_pointer (&remove_keys), FALSE);

  command_content = json_object_new ();
  json_object_set_string_member (command_content, "messageUId", request->message_uid);
  json_object_set_int_member (command_content, "conversationType", request->conversation_type);
  json_object_set_string_member (command_content, "targetId", request->target_id);
  json_object_set_object_member (command_content, "set", json_object_ref (set));
  json_object_set_array_member (command_content, "remove", g_steal_pointer (&remove));

  op->command = command_op_new (self, app, sender, op->channel, request->conversation_type, request->target_id,
                                NATTER_OBJECT_EXPANSION_COMMAND, object_to_string (command_content));

  natterd_store_submit (self->store, op);
}

/* -------------------------------------------------------------- the others */

static void
query_turn (NatterdServer *self,
            QueryContext  *context)
{
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__TurnCredentials turn = NATTER__TURN_CREDENTIALS__INIT;
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  char **uris = self->config->turn_uris;

  if (self->config->turn_secret != NULL && *self->config->turn_secret != '\0')
    {
      /* coturn's REST API scheme (use-auth-secret): the username carries its
       * own expiry, the password is the HMAC of it. */
      g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) self->config->turn_secret,
                                          strlen (self->config->turn_secret));
      guint8 digest[20];
      gsize length = sizeof digest;
      gint64 expiry = g_get_real_time () / G_USEC_PER_SEC + self->config->turn_ttl;

      username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", expiry, context->user->user_id);
      g_hmac_update (hmac, (const guchar *) username, -1);
      g_hmac_get_digest (hmac, digest, &length);
      password = g_base64_encode (digest, length);
      turn.ttl = self->config->turn_ttl;
    }

  turn.username = username != NULL ? username : (char *) "";
  turn.password = password != NULL ? password : (char *) "";
  turn.n_uris = uris != NULL ? g_strv_length (uris) : 0;
  turn.uris = uris;
  result.payload_case = NATTER__RESULT__PAYLOAD_TURN_CREDENTIALS;
  result.turn_credentials = &turn;
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static void
query_online_status (NatterdServer                     *self,
                     QueryContext                      *context,
                     const Natter__OnlineStatusRequest *request)
{
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__OnlineStatusResult online = NATTER__ONLINE_STATUS_RESULT__INIT;
  g_autofree Natter__OnlineStatus *statuses = g_new0 (Natter__OnlineStatus, request->n_user_ids);
  g_autofree Natter__OnlineStatus **pointers = g_new0 (Natter__OnlineStatus *, request->n_user_ids);
  /* one array for every status's connected devices (each at most all asked) */
  g_autofree char **devices = g_new0 (char *, request->n_user_ids * request->n_device_ids + 1);
  gsize n_devices = 0;
  NatterdApp *app = context->user->app;

  for (gsize i = 0; i < request->n_user_ids; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (app, request->user_ids[i]);
      guint n_local = user != NULL && user->sessions != NULL ? user->sessions->len : 0;
      /* Devices on other nodes: "device\nplatform" (natterd-cluster.c) */
      g_autoptr(GPtrArray) remote = user != NULL && user->remote_sessions > 0 && context->server->cluster != NULL ?
                                    natterd_cluster_remote_devices (context->server->cluster, user) : NULL;

      natter__online_status__init (&statuses[i]);
      statuses[i].user_id = request->user_ids[i];
      /* Who hides their status (privacy.json, #16) is hidden here too,
       * neither online nor offline; the devices the asker names are still
       * answered while one of them rings for the asker's call. */
      statuses[i].hidden = user != NULL && user != context->user &&
                           natterd_server_hides_presence (context->server, user);
      /* Whoever blacklisted the asker is offline to them. */
      statuses[i].online = user != NULL && natterd_user_is_online (user) &&
                           !natterd_user_is_blocking (user, context->user);
      if (!statuses[i].online)
        statuses[i].platform = (char *) "";
      else if (n_local > 0)
        statuses[i].platform = (char *) natterd_session_get_platform (g_ptr_array_index (user->sessions, n_local - 1));
      else if (remote != NULL && remote->len > 0)
        statuses[i].platform = strchr (g_ptr_array_index (remote, remote->len - 1), '\n') + 1;
      else
        statuses[i].platform = (char *) "";
      statuses[i].device_ids = devices + n_devices;
      for (gsize d = 0; statuses[i].online && d < request->n_device_ids &&
                        natterd_server_presence_devices_visible (self, context->user, user); d++)
        {
          gboolean found = FALSE;
          gsize length = strlen (request->device_ids[d]);

          for (guint s = 0; !found && s < n_local; s++)
            found = g_strcmp0 (natterd_session_get_device_id (g_ptr_array_index (user->sessions, s)),
                               request->device_ids[d]) == 0;
          for (guint s = 0; !found && remote != NULL && s < remote->len; s++)
            {
              const char *entry = g_ptr_array_index (remote, s);

              found = strncmp (entry, request->device_ids[d], length) == 0 && entry[length] == '\n';
            }
          if (found)
            {
              statuses[i].device_ids[statuses[i].n_device_ids++] = request->device_ids[d];
              n_devices++;
            }
        }
      if (statuses[i].hidden)
        {
          statuses[i].online = FALSE;
          statuses[i].platform = (char *) "";
        }
      pointers[i] = &statuses[i];
    }

  online.n_statuses = request->n_user_ids;
  online.statuses = pointers;
  result.payload_case = NATTER__RESULT__PAYLOAD_ONLINE_STATUS;
  result.online_status = &online;
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

/* Presence subscriptions (natterd-presence.c); subscribing answers the
 * users' status now. */
static void
query_subscribe (NatterdServer                  *self,
                 QueryContext                   *context,
                 const Natter__SubscribeRequest *request)
{
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__SubscribeResult subscribe = NATTER__SUBSCRIBE_RESULT__INIT;
  g_autoptr(GPtrArray) found = g_ptr_array_new ();
  g_autofree Natter__OnlineStatus *statuses = NULL;
  g_autofree Natter__OnlineStatus **pointers = NULL;
  int code = natterd_server_subscribe (self, context->user, request, found);

  if (code != NATTER_CODE_OK)
    {
      send_code (context, code, NULL);
      return;
    }

  statuses = g_new0 (Natter__OnlineStatus, found->len);
  pointers = g_new0 (Natter__OnlineStatus *, found->len);
  for (guint i = 0; !request->unsubscribe && i < found->len; i++)
    {
      NatterdUser *user = g_ptr_array_index (found, i);
      const char *platform;

      natter__online_status__init (&statuses[i]);
      statuses[i].user_id = user->user_id;
      statuses[i].online = natterd_server_presence_status (self, context->user, user, &platform,
                                                           &statuses[i].hidden, &statuses[i].last_seen);
      statuses[i].platform = (char *) platform;
      pointers[subscribe.n_statuses++] = &statuses[i];
    }
  subscribe.statuses = pointers;
  result.payload_case = NATTER__RESULT__PAYLOAD_SUBSCRIBE;
  result.subscribe = &subscribe;
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

/* Names and portraits as the app server set them; groups only for their
 * members (a group's name is not for everyone who guesses its id). */
static void
query_profile (NatterdServer                *self,
               QueryContext                 *context,
               const Natter__ProfileRequest *request)
{
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__ProfileResult profile = NATTER__PROFILE_RESULT__INIT;
  g_autofree Natter__UserProfile *users = g_new0 (Natter__UserProfile, MAX (request->n_user_ids, 1));
  g_autofree Natter__UserProfile **user_pointers = g_new0 (Natter__UserProfile *, MAX (request->n_user_ids, 1));
  g_autofree Natter__GroupProfile *groups = g_new0 (Natter__GroupProfile, MAX (request->n_group_ids, 1));
  g_autofree Natter__GroupProfile **group_pointers = g_new0 (Natter__GroupProfile *, MAX (request->n_group_ids, 1));
  NatterdUser *viewer = context->user;
  NatterdApp *app = viewer->app;

  for (gsize i = 0; i < request->n_user_ids; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (app, request->user_ids[i]);
      Natter__UserProfile *out = &users[profile.n_users];

      if (user == NULL)
        continue;
      natter__user_profile__init (out);
      out->id = user->user_id;
      out->name = user->name != NULL ? user->name : (char *) "";
      out->portrait_uri = user->portrait_uri != NULL ? user->portrait_uri : (char *) "";
      user_pointers[profile.n_users++] = out;
    }

  for (gsize i = 0; i < request->n_group_ids; i++)
    {
      NatterdGroup *group = g_hash_table_lookup (app->groups, request->group_ids[i]);
      Natter__GroupProfile *out = &groups[profile.n_groups];

      if (group == NULL || natterd_group_lookup_member (group, viewer) == NULL)
        continue;
      natter__group_profile__init (out);
      out->id = group->group_id;
      out->name = group->name != NULL ? group->name : (char *) "";
      out->member_count = g_hash_table_size (group->members);
      group_pointers[profile.n_groups++] = out;
    }

  profile.users = user_pointers;
  profile.groups = group_pointers;
  result.payload_case = NATTER__RESULT__PAYLOAD_PROFILE;
  result.profile = &profile;
  send_result (context, &result, NATTER_CODE_OK, NULL);
}

static NatterdConversationAction
conversation_action (Natter__ConversationUpdateRequest__Action action)
{
  switch (action)
    {
    case NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_PIN:
      return NATTERD_CONVERSATION_PIN;
    case NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_UNPIN:
      return NATTERD_CONVERSATION_UNPIN;
    case NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_MUTE:
      return NATTERD_CONVERSATION_MUTE;
    case NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_UNMUTE:
      return NATTERD_CONVERSATION_UNMUTE;
    case NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_REMOVE:
      return NATTERD_CONVERSATION_REMOVE;
    case NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_NONE:
    case _NATTER__CONVERSATION_UPDATE_REQUEST__ACTION_IS_INT_SIZE:
    default:
      g_assert_not_reached ();  /* natter_frame_validate() refuses them */
    }
}

/* A timeline page (one indexed range of one group) costs this share of
 * a token: a device that comes back to hundreds of moved groups fetches
 * one page each right away, and a flood of them is still bounded (ten
 * times query-rate). */
#define TIMELINE_QUERY_COST 0.1

/* [limits] query-rate and query-burst: a token bucket per user, like the
 * send rate; full on first use. */
static gboolean
check_query_rate (NatterdServer *self,
                  NatterdUser   *user,
                  double         cost)
{
  double rate = self->config->query_rate;
  double burst = MAX ((double) self->config->query_burst, rate);
  gint64 now = g_get_monotonic_time ();

  if (rate <= 0)
    return TRUE;

  if (user->query_refill == 0)
    user->query_tokens = burst;
  else
    user->query_tokens = MIN (burst, user->query_tokens +
                              (double) (now - user->query_refill) * rate / G_USEC_PER_SEC);
  user->query_refill = now;

  if (user->query_tokens < cost)
    return FALSE;
  user->query_tokens -= cost;
  return TRUE;
}

/* A Result with @code for a query that is not run. */
static void
refuse_query (NatterdServer       *self,
              NatterdSession      *session,
              const Natter__Query *query,
              int                  code,
              const char          *error_message)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Result result = NATTER__RESULT__INIT;

  result.request_id = query->request_id;
  result.code = code;
  result.error_message = (char *) error_message;
  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = &result;
  natterd_session_send_frame (session, &frame);
  self->metrics->queries_refused++;
}

void
natterd_server_handle_query (NatterdServer       *self,
                             NatterdSession      *session,
                             const Natter__Query *query)
{
  NatterdUser *user = natterd_session_get_user (session);
  QueryContext *context;

  /* What one client can make the reader thread and the main loop do for
   * it stays bounded: so many unanswered at once, so many a second. */
  if (self->config->max_queries > 0 &&
      natterd_session_get_queries (session) >= self->config->max_queries)
    {
      refuse_query (self, session, query, NATTER_CODE_SEND_TOO_FAST,
                    "Too many queries waiting for their answer");
      return;
    }
  if (!check_query_rate (self, user, query->method_case == NATTER__QUERY__METHOD_TIMELINE ?
                                    TIMELINE_QUERY_COST : 1))
    {
      refuse_query (self, session, query, NATTER_CODE_SEND_TOO_FAST, "Querying too fast");
      return;
    }

  context = query_context_new (self, session, query);

  switch (query->method_case)
    {
    case NATTER__QUERY__METHOD_HISTORY:
      query_history (self, context, query->history);
      return;

    case NATTER__QUERY__METHOD_CONVERSATION_LIST:
      query_conversations (self, context, query->conversation_list);
      return;

    case NATTER__QUERY__METHOD_CHATROOM_JOIN:
      query_chatroom_join (self, context, query->chatroom_join);
      return;

    case NATTER__QUERY__METHOD_CHATROOM_QUIT:
      {
        NatterdChatroom *room = g_hash_table_lookup (user->app->chatrooms,
                                                     query->chatroom_quit->chatroom_id);

        if (room != NULL)
          natterd_server_chatroom_quit (self, room, user);
        send_code (context, NATTER_CODE_OK, NULL);
      }
      break;

    case NATTER__QUERY__METHOD_CLEAR_UNREAD:
      update_conversation (self, context, query->clear_unread->conversation_type,
                           query->clear_unread->target_id, NATTERD_CONVERSATION_CLEAR_UNREAD,
                           query->clear_unread->last_read_time, query->clear_unread->read_seq);
      return;

    case NATTER__QUERY__METHOD_CONVERSATION_UPDATE:
      update_conversation (self, context, query->conversation_update->conversation_type,
                           query->conversation_update->target_id,
                           conversation_action (query->conversation_update->action), 0, 0);
      return;

    case NATTER__QUERY__METHOD_RECALL:
      natterd_server_recall_from (self, session, user->app, user,
                                  query->recall->conversation_type, query->recall->target_id,
                                  query->recall->message_uid, query->recall->sent_time,
                                  command_answered, context, query_context_free);
      return;

    case NATTER__QUERY__METHOD_EDIT:
      natterd_server_edit_from (self, session, user->app, user, query->edit,
                                command_answered, context, query_context_free);
      return;

    case NATTER__QUERY__METHOD_EXPANSION:
      natterd_server_expansion_from (self, session, user->app, user, query->expansion,
                                     command_answered, context, query_context_free);
      return;

    case NATTER__QUERY__METHOD_TURN_CREDENTIALS:
      query_turn (self, context);
      break;

    case NATTER__QUERY__METHOD_ONLINE_STATUS:
      query_online_status (self, context, query->online_status);
      break;

    case NATTER__QUERY__METHOD_PROFILE:
      query_profile (self, context, query->profile);
      break;

    case NATTER__QUERY__METHOD_SUBSCRIBE:
      query_subscribe (self, context, query->subscribe);
      break;

    case NATTER__QUERY__METHOD_TIMELINE_SYNC:
      query_timeline_sync (self, context, query->timeline_sync);
      return;

    case NATTER__QUERY__METHOD_TIMELINE:
      query_timeline (self, context, query->timeline);
      return;

    case NATTER__QUERY__METHOD__NOT_SET:
    default:
      g_assert_not_reached ();
    }

  query_context_free (context);
}
