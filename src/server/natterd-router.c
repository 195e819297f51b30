/* natterd-router.c — who gets a message, and delivering it once it is stored
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"
#include "natter-json.h"
#include "natter-object-names.h"

#include <stdlib.h>
#include <string.h>

gint64
natterd_server_next_sent_time (NatterdServer *self,
                               const char    *channel)
{
  guint slot = g_str_hash (channel) & (NATTERD_CHANNEL_CLOCK_SLOTS - 1);
  gint64 time = MAX (natterd_now_ms (), self->channel_clock[slot] + 1);

  self->channel_clock[slot] = time;
  return time;
}

gboolean
natterd_server_check_rate (NatterdServer *self,
                           NatterdUser   *user)
{
  const NatterdAppSettings *settings = &user->app->settings;
  double rate = settings->send_rate >= 0 ? (double) settings->send_rate : (double) self->config->send_rate;
  double burst = settings->send_burst >= 0 ? (double) settings->send_burst : (double) self->config->send_burst;
  gint64 now = g_get_monotonic_time ();

  if (rate <= 0)
    return TRUE;
  burst = MAX (burst, rate);

  if (user->send_tokens < 0)
    user->send_tokens = burst;
  else
    user->send_tokens = MIN (burst, user->send_tokens +
                             (double) (now - user->send_refill) * rate / G_USEC_PER_SEC);
  user->send_refill = now;

  if (user->send_tokens < 1)
    return FALSE;
  user->send_tokens -= 1;
  return TRUE;
}

void
natterd_server_deliver_live (NatterdServer        *self,
                             NatterdUser          *user,
                             const NatterdMessage *message,
                             NatterdSession       *except)
{
  if (user == NULL || user->sessions == NULL)
    return;

  for (guint i = 0; i < user->sessions->len; i++)
    {
      NatterdSession *session = g_ptr_array_index (user->sessions, i);

      if (session != except)
        natterd_session_deliver_transient (session, message);
    }
}

static void
add_recipient (NatterdPublishOp *op,
               NatterdUser      *user,
               const char       *target_id,
               gboolean          inbox,
               gboolean          counted)
{
  NatterdRecipient recipient = {
    .user_id = user->id,
    .target_id = target_id,
    .inbox = inbox,
    .conversation = TRUE,
    .counted = counted,
  };

  g_array_append_val (op->recipients, recipient);
}

void
natterd_server_add_conversation_recipients (NatterdServer    *self,
                                            NatterdPublishOp *op,
                                            NatterdApp       *app,
                                            NatterdUser      *sender,
                                            int               conversation_type,
                                            const char       *target_id,
                                            gboolean          sender_inbox,
                                            gboolean          counted)
{
  /* Target ids point into the op, which owns them. */
  const char *group_target = op->message.target_id;
  const char *sender_id = op->message.sender_user_id;

  g_assert (g_strcmp0 (group_target, target_id) == 0);

  if (natterd_conversation_is_private (conversation_type))
    {
      NatterdUser *target = natterd_server_ensure_user (self, app, target_id);

      if (target != sender)
        add_recipient (op, target, sender_id, TRUE, counted);
    }
  else if (conversation_type == NATTER_CONVERSATION_GROUP ||
           conversation_type == NATTER_CONVERSATION_DISCUSSION)
    {
      /* Read diffusion: one row on the group's timeline, whatever the
       * group's size; members' devices get it live or fetch it. */
      op->timeline = TRUE;
      op->sender_devices = sender_inbox;
      return;
    }
  else
    {
      /* Chatrooms have no inbox: online members only. */
      return;
    }

  add_recipient (op, sender, group_target, sender_inbox, FALSE);
}

/* The reference codes of a refused send, checked before anything is stored. */
static int
check_route (NatterdServer               *self,
             const NatterdPublishRequest *request)
{
  NatterdApp *app = request->app;
  NatterdUser *sender = request->sender;
  gint64 now = natterd_now_ms ();

  switch (request->conversation_type)
    {
    case NATTER_CONVERSATION_SYSTEM:
      /* System messages come from the app server only. */
      if (!request->from_api)
        return NATTER_CODE_INVALID_PARAMETER;
      return NATTER_CODE_OK;

    case NATTER_CONVERSATION_PRIVATE:
    case NATTER_CONVERSATION_CUSTOMER_SERVICE:
    case NATTER_CONVERSATION_APP_PUBLIC_SERVICE:
    case NATTER_CONVERSATION_PUBLIC_SERVICE:
      {
        NatterdUser *target = natterd_directory_lookup_user (app, request->target_id);

        if (!request->from_api && target != NULL && natterd_user_is_blocking (target, sender))
          return NATTER_CODE_REJECTED_BY_BLACKLIST;
        /* natterd-accounts-people.c: messagesFrom=contacts */
        if (!request->from_api)
          return natterd_server_accounts_check_publish (self, app, sender, request->conversation_type,
                                                        request->target_id);
        return NATTER_CODE_OK;
      }

    case NATTER_CONVERSATION_GROUP:
    case NATTER_CONVERSATION_DISCUSSION:
      {
        NatterdGroup *group = g_hash_table_lookup (app->groups, request->target_id);
        NatterdMember *member;

        if (request->from_api)
          return NATTER_CODE_OK;
        member = group != NULL ? natterd_group_lookup_member (group, sender) : NULL;
        if (member == NULL)
          return NATTER_CODE_NOT_IN_GROUP;
        if (member->gag_until > now)
          return NATTER_CODE_GAGGED_IN_GROUP;
        /* natterd-accounts-groups.c: mute-all */
        return natterd_server_accounts_check_publish (self, app, sender, request->conversation_type,
                                                      request->target_id);
      }

    case NATTER_CONVERSATION_CHATROOM:
      {
        NatterdChatroom *room = g_hash_table_lookup (app->chatrooms, request->target_id);
        gint64 *until;

        if (room == NULL)
          return NATTER_CODE_CHATROOM_NOT_EXIST;
        if (request->from_api)
          return NATTER_CODE_OK;
        until = g_hash_table_lookup (room->banned, sender);
        if ((until != NULL && *until > now) || g_hash_table_contains (room->kicked, sender))
          return NATTER_CODE_KICKED_FROM_CHATROOM;
        if (!g_hash_table_contains (room->members, sender))
          return NATTER_CODE_NOT_IN_CHATROOM;
        until = g_hash_table_lookup (room->gagged, sender);
        if (until != NULL && *until > now)
          return NATTER_CODE_GAGGED_IN_CHATROOM;
        return NATTER_CODE_OK;
      }

    default:
      return NATTER_CODE_INVALID_PARAMETER;
    }
}

static void
deliver_to_room (NatterdServer        *self,
                 NatterdChatroom      *room,
                 const NatterdMessage *message,
                 NatterdSession       *except)
{
  GHashTableIter iter;
  NatterdUser *member;

  g_hash_table_iter_init (&iter, room->members);
  while (g_hash_table_iter_next (&iter, (gpointer *) &member, NULL))
    natterd_server_deliver_live (self, member, message, except);
}

/* A status-only @message to this node's sessions concerned (but @origin);
 * @sender may be NULL (a user this node does not know). */
static void
deliver_status (NatterdServer        *self,
                NatterdApp           *app,
                NatterdUser          *sender,
                const NatterdMessage *message,
                gboolean              multi_device,
                NatterdSession       *origin)
{
  /* Read status goes to the reader's own other devices only. */
  if (g_strcmp0 (message->object_name, NATTER_OBJECT_SYNC_READ_STATUS) == 0)
    {
      natterd_server_deliver_live (self, sender, message, origin);
      return;
    }

  if (natterd_conversation_is_private (message->conversation_type))
    {
      NatterdUser *target = natterd_directory_lookup_user (app, message->target_id);

      /* natterd-presence.c: the caller may ask about the ringing device */
      if (target != NULL && sender != NULL && target != sender &&
          g_strcmp0 (message->object_name, NATTER_OBJECT_CALL_RINGING) == 0)
        natterd_server_presence_rang (target, sender);
      if (target != sender)
        natterd_server_deliver_live (self, target, message, NULL);
    }
  else if (message->conversation_type == NATTER_CONVERSATION_CHATROOM)
    {
      NatterdChatroom *room = g_hash_table_lookup (app->chatrooms, message->target_id);

      if (room != NULL)
        deliver_to_room (self, room, message, origin);
      return;
    }
  else
    {
      NatterdGroup *group = g_hash_table_lookup (app->groups, message->target_id);
      GHashTableIter iter;
      NatterdUser *member;

      if (group != NULL)
        {
          g_hash_table_iter_init (&iter, group->members);
          while (g_hash_table_iter_next (&iter, (gpointer *) &member, NULL))
            if (member != sender)
              natterd_server_deliver_live (self, member, message, NULL);
        }
    }

  /* The sender's other devices follow a call or typing on this one. */
  if (multi_device)
    natterd_server_deliver_live (self, sender, message, origin);
}

void
natterd_server_remote_status (NatterdServer        *self,
                              NatterdApp           *app,
                              const NatterdMessage *message,
                              gboolean              multi_device)
{
  deliver_status (self, app, natterd_directory_lookup_user (app, message->sender_user_id),
                  message, multi_device, NULL);
}

/* Status-only messages: to whoever is online now, never stored. */
static void
publish_status (NatterdServer               *self,
                const NatterdPublishRequest *request,
                const char                  *channel)
{
  NatterdApp *app = request->app;
  NatterdUser *sender = request->sender;
  gboolean multi_device = app->settings.multi_device || request->include_sender;
  NatterdMessage message = {
    .conversation_type = request->conversation_type,
    .sender_user_id = sender->user_id,
    .target_id = (char *) request->target_id,
    .object_name = (char *) request->object_name,
    .content = (char *) request->content,
    .push_content = (char *) request->push_content,
    .flags = request->flags,
    .sent_time = natterd_server_next_sent_time (self, channel),
  };

  deliver_status (self, app, sender, &message, multi_device, request->origin);
  if (self->cluster != NULL)
    natterd_cluster_send_status (self->cluster, app, &message, multi_device);
}

/* ------------------------------------------------------------ group fan-out */

/* Deliveries a group's messages in flight (stored or being stored, not yet
 * written to every member's connection) may add up to; the next message
 * waits, unacked, until one is done: a group sending faster than its
 * fan-out is written slows its senders down instead of piling up. */
#define LANE_DELIVERIES 32768
#define LANE_MIN 4
#define LANE_MAX 256
/* And their bytes at most (one message always goes): half of what a
 * session may have queued before it is skipped (natterd-session.c), so a
 * member that reads, however slowly, gets every message live. */
#define LANE_BYTES (512 * 1024)

/* A group's messages in flight, and those waiting for their turn. */
typedef struct
{
  guint          ref_count;
  NatterdServer *server;        /* NULL once the server is going */
  char          *key;
  guint          in_flight;
  gsize          in_flight_bytes;
  GQueue         waiting;       /* NatterdPublishOp, not yet submitted */
} Lane;

/* A committed group message on its way to the members' sessions: encoded
 * once per form (not mentioning / mentioning the receiver), whatever the
 * number of receivers, and queued to each as a reference. */
typedef struct
{
  Lane  *lane;                  /* NULL when not throttled (a recall) */
  gsize  bytes;                 /* its share of lane->in_flight_bytes */
  guint  holds;                 /* its frames not settled, and the creator */
} Fanout;

static Lane *
lane_ref (Lane *lane)
{
  lane->ref_count++;
  return lane;
}

static void
lane_unref (Lane *lane)
{
  if (--lane->ref_count > 0)
    return;
  g_queue_clear_full (&lane->waiting, (GDestroyNotify) natterd_op_free);
  g_free (lane->key);
  g_free (lane);
}

static char *
lane_key (gint64      app_id,
          const char *target_id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "/%s", app_id, target_id);
}

/* About what a Deliver of @op weighs on the wire. */
static gsize
op_bytes (NatterdPublishOp *op)
{
  NatterdMessage *m = &op->message;
  const char *parts[] = { m->content, m->object_name, m->target_id, m->sender_user_id, m->push_content };
  gsize bytes = 128;

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    bytes += parts[i] != NULL ? strlen (parts[i]) : 0;
  return bytes;
}

/* May @op go now, beside what @lane has in flight? */
static gboolean
lane_admits (Lane             *lane,
             NatterdApp       *app,
             NatterdPublishOp *op)
{
  NatterdGroup *group = app != NULL ? g_hash_table_lookup (app->groups, op->message.target_id) : NULL;
  guint members = group != NULL ? g_hash_table_size (group->members) : 1;

  if (lane->in_flight == 0)
    return TRUE;
  return lane->in_flight < CLAMP (LANE_DELIVERIES / MAX (members, 1), LANE_MIN, LANE_MAX) &&
         lane->in_flight_bytes + op_bytes (op) <= LANE_BYTES;
}

static void
lane_start (NatterdServer    *self,
            Lane             *lane,
            NatterdPublishOp *op)
{
  lane->in_flight++;
  lane->in_flight_bytes += op_bytes (op);
  natterd_store_submit (self->store, (NatterdOp *) op);
}

/* One of @lane's messages is done: let the next ones go. */
static void
lane_done (Lane  *lane,
           gsize  bytes)
{
  NatterdServer *self = lane->server;

  g_assert (lane->in_flight > 0 && lane->in_flight_bytes >= bytes);
  lane->in_flight--;
  lane->in_flight_bytes -= bytes;
  if (self == NULL)
    return;

  while (!g_queue_is_empty (&lane->waiting))
    {
      NatterdPublishOp *op = g_queue_peek_head (&lane->waiting);
      NatterdApp *app = natterd_directory_lookup_app_id (self->directory, op->app_id);

      if (!lane_admits (lane, app, op))
        return;
      g_queue_pop_head (&lane->waiting);
      lane_start (self, lane, op);
    }
  if (lane->in_flight == 0)
    {
      /* The table's reference. */
      g_hash_table_remove (self->fanout_lanes, lane->key);
      lane_unref (lane);
    }
}

/* Submits a group message @op, or holds it while its group is busy. */
static void
lane_submit (NatterdServer    *self,
             NatterdApp       *app,
             NatterdPublishOp *op)
{
  g_autofree char *key = lane_key (op->app_id, op->message.target_id);
  Lane *lane = g_hash_table_lookup (self->fanout_lanes, key);

  if (lane == NULL)
    {
      lane = g_new0 (Lane, 1);
      lane->ref_count = 1;
      lane->server = self;
      lane->key = g_steal_pointer (&key);
      g_queue_init (&lane->waiting);
      g_hash_table_insert (self->fanout_lanes, lane->key, lane);
    }

  if (g_queue_is_empty (&lane->waiting) && lane_admits (lane, app, op))
    {
      lane_start (self, lane, op);
      return;
    }
  self->metrics->fanout_held++;
  g_queue_push_tail (&lane->waiting, op);
}

static Lane *
lane_lookup (NatterdServer    *self,
             NatterdPublishOp *op)
{
  g_autofree char *key = lane_key (op->app_id, op->message.target_id);

  return g_hash_table_lookup (self->fanout_lanes, key);
}

static void
fanout_settled (gpointer user_data)
{
  Fanout *fanout = user_data;

  if (--fanout->holds > 0)
    return;
  if (fanout->lane != NULL)
    {
      lane_done (fanout->lane, fanout->bytes);
      lane_unref (fanout->lane);
    }
  g_free (fanout);
}

static void fanout_jobs_clear (NatterdServer *self);

void
natterd_server_fanout_clear (NatterdServer *self)
{
  GHashTableIter iter;
  Lane *lane;

  if (self->fanout_lanes == NULL)
    return;
  /* Frames still queued on connections settle later, on their own. */
  g_hash_table_iter_init (&iter, self->fanout_lanes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &lane))
    lane->server = NULL;
  /* The jobs' slots go back to lanes that start nothing any more. */
  fanout_jobs_clear (self);
  g_hash_table_iter_init (&iter, self->fanout_lanes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &lane))
    {
      lane->server = NULL;
      g_queue_clear_full (&lane->waiting, (GDestroyNotify) natterd_op_free);
      g_queue_init (&lane->waiting);
      lane_unref (lane);
    }
  g_clear_pointer (&self->fanout_lanes, g_hash_table_unref);
}

static NatterdSocketFrame *
encode_timeline_deliver (const NatterdMessage *m,
                         gboolean              mentioned,
                         Fanout               *fanout)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Message proto = NATTER__MESSAGE__INIT;
  gconstpointer data;
  gsize size;

  /* A group message's target is the group for every viewer. */
  natterd_message_to_proto (m, m->sender_user_id, &proto);
  proto.mentioned = mentioned;
  deliver.seq = 0;
  deliver.message = &proto;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  bytes = natter_frame_encode (&frame, &error);
  if (bytes == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "encode-failed", "frame", "Deliver", "error", error->message, NULL);
      return NULL;
    }
  data = g_bytes_get_data (bytes, &size);
  fanout->holds++;
  return natterd_socket_frame_new (data, size, fanout_settled, fanout);
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* @mention_ids is sorted (parse_mentions()): a lookup per member. */
static gboolean
mentions_user (gboolean     mention_all,
               GArray      *mention_ids,
               NatterdUser *user)
{
  if (mention_all)
    return TRUE;
  return mention_ids != NULL &&
         bsearch (&user->id, mention_ids->data, mention_ids->len, sizeof (gint64), compare_ids) != NULL;
}

/* Members looked at and sessions a group message's frame is queued to per
 * main-loop iteration, and for at most this long: a private message's
 * Publish read and its ack written in the same iteration wait for one
 * slice (~0.1 ms), not for a 3,000-member group's whole fan-out (~2 ms). */
#define FANOUT_SLICE 256
#define FANOUT_SLICE_US 200
/* Work a slice does before it stops for a store completion: the fan-out
 * moves on even when completions come back to back (~10 µs). */
#define FANOUT_SLICE_MIN 16

/* Tests only: NATTERD_TEST_FANOUT_PACE_MS=N queues one session per slice,
 * N ms apart, so a test sees other work done while a fan-out is under
 * way (tests/server/test-groups.c, private-beside-fanout). */
static guint
test_env_uint (const char *name)
{
  const char *env = g_getenv (name);
  guint64 value = 0;

  if (env == NULL || !g_ascii_string_to_unsigned (env, 10, 1, 10000, &value, NULL))
    value = 0;
  return (guint) value;
}

static guint
fanout_pace_ms (void)
{
  static gsize pace;

  if (g_once_init_enter (&pace))
    g_once_init_leave (&pace, test_env_uint ("NATTERD_TEST_FANOUT_PACE_MS") + 1);
  return (guint) (pace - 1);
}

/* Tests only: NATTERD_TEST_FANOUT_MEMBER_US=N makes each member cost N µs
 * of the main thread, as a big group's members do together
 * (tests/server/test-groups.c, ack-beside-fanout). */
static guint
fanout_member_us (void)
{
  static gsize cost;

  if (g_once_init_enter (&cost))
    g_once_init_leave (&cost, test_env_uint ("NATTERD_TEST_FANOUT_MEMBER_US") + 1);
  return (guint) (cost - 1);
}

/* A committed group message's frames (plain, and mentioning the reader
 * when it mentions anyone), and the members it is still to be queued to:
 * those of the commit (users are never freed while natterd runs, groups
 * are), their online devices looked up as their slice comes. */
typedef struct
{
  Fanout             *fanout;
  NatterdSocketFrame *frames[2];
  gpointer           *members;       /* NatterdUser* */
  guint               n_members;
  guint               next;
  gint64              sender_id;
  gboolean            sender_devices;
  gboolean            mention_all;
  GArray             *mention_ids;   /* a ref; NULL if none */
  NatterdSession     *origin;        /* a ref; NULL if none */
  char               *target_id;     /* the group's */
  guint64             seq;           /* the message's timeline_seq */
} FanoutJob;

static void
fanout_job_free (FanoutJob *job)
{
  for (guint i = 0; i < 2; i++)
    if (job->frames[i] != NULL)
      natterd_socket_frame_release (job->frames[i]);
  fanout_settled (job->fanout);
  g_free (job->members);
  g_clear_pointer (&job->mention_ids, g_array_unref);
  g_clear_object (&job->origin);
  g_free (job->target_id);
  g_free (job);
}

/* Queues the frame to @member's online devices (the sender's other ones
 * when the app syncs them, never the one that sent it); returns the work
 * done: the member looked at and each device. */
static guint
fanout_member (FanoutJob   *job,
               NatterdUser *member)
{
  guint8 form;
  guint work = 1;

  if (member->sessions == NULL || member->sessions->len == 0 ||
      (member->id == job->sender_id && !job->sender_devices))
    return work;
  form = member->id != job->sender_id && job->frames[1] != NULL &&
         mentions_user (job->mention_all, job->mention_ids, member) ? 1 : 0;
  for (guint s = 0; s < member->sessions->len; s++)
    {
      NatterdSession *session = g_ptr_array_index (member->sessions, s);

      if (session == job->origin ||
          natterd_session_timeline_was_fetched (session, job->target_id, job->seq))
        continue;
      natterd_session_deliver_shared (session, job->frames[form]);
      work++;
    }
  return work;
}

/* A member's walk is a chain of loads scattered over the heap (the user,
 * its sessions array, the array's data, the session, its socket), each a
 * likely cache miss with 3,000 members: ~40 % of the main thread's time
 * per delivery went to waiting for them (perf, #18). Each link is
 * prefetched for a member a little ahead, from the link prefetched for it
 * an iteration or two before, so the loads overlap. */
static inline void
fanout_prefetch (FanoutJob *job,
                 guint      i)
{
  NatterdUser *member;

  if (i + 8 < job->n_members)
    __builtin_prefetch (job->members[i + 8]);
  if (i + 6 < job->n_members && (member = job->members[i + 6])->sessions != NULL)
    __builtin_prefetch (member->sessions);
  if (i + 4 < job->n_members && (member = job->members[i + 4])->sessions != NULL)
    __builtin_prefetch (member->sessions->pdata);
  if (i + 2 < job->n_members && (member = job->members[i + 2])->sessions != NULL &&
      member->sessions->len > 0)
    __builtin_prefetch (g_ptr_array_index (member->sessions, 0));
  if (i + 1 < job->n_members && (member = job->members[i + 1])->sessions != NULL &&
      member->sessions->len > 0)
    natterd_session_prefetch (g_ptr_array_index (member->sessions, 0));
}

/* Queues the jobs' sessions until one slice's work or @deadline, or
 * (past FANOUT_SLICE_MIN) until a durable batch's completion is queued
 * to the main loop: its acks go next (the completions' source is above this one's priority),
 * not after the rest of the slice (#18: the slowest private acks beside
 * a 3,000-member group waited ms for fan-out slices). TRUE while jobs
 * remain. */
static gboolean
fanout_run_jobs (NatterdServer *self,
                 gint64         deadline)
{
  guint slice = fanout_pace_ms () > 0 ? 1 : FANOUT_SLICE;
  guint count = 0;
  gboolean yield = FALSE;

  while (!g_queue_is_empty (&self->fanout_jobs))
    {
      FanoutJob *job = g_queue_peek_head (&self->fanout_jobs);

      for (; job->next < job->n_members && count < slice &&
             !(yield = count >= FANOUT_SLICE_MIN && natterd_store_completions_ready (self->store));
           job->next++)
        {
          fanout_prefetch (job, job->next);
          count += fanout_member (job, job->members[job->next]);
          if (G_UNLIKELY (fanout_member_us () > 0))
            {
              gint64 until = g_get_monotonic_time () + fanout_member_us ();

              while (g_get_monotonic_time () < until)
                ;
            }
        }
      if (job->next < job->n_members || yield)
        {
          self->metrics->fanout_yields += yield;
          break;
        }
      fanout_job_free (g_queue_pop_head (&self->fanout_jobs));
      if (count >= slice || g_get_monotonic_time () >= deadline)
        break;
    }
  return !g_queue_is_empty (&self->fanout_jobs);
}

/* Queues one slice, its time kept; TRUE while jobs remain. */
static gboolean
fanout_run_slice (NatterdServer *self)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + FANOUT_SLICE_US;
  gboolean more = fanout_run_jobs (self, deadline);
  guint kept = self->fanout_slice_next++ % NATTERD_FANOUT_SLICES_KEPT;

  self->metrics->fanout_slices++;
  self->fanout_slices[kept].start = start;
  self->fanout_slices[kept].end = g_get_monotonic_time ();
  return more;
}

/* The main thread's time in fan-out slices between @from and @to. Called
 * for every PublishAck: it walks back from the newest slice and stops at
 * the first that ended before @from, so with no fan-out under way it
 * looks at one slice, not all that are kept (#17: the full walk cost
 * ~900 instructions a private message). */
gint64
natterd_server_fanout_time_between (NatterdServer *self,
                                    gint64         from,
                                    gint64         to)
{
  guint n = MIN (self->fanout_slice_next, NATTERD_FANOUT_SLICES_KEPT);
  gint64 us = 0;

  for (guint back = 1; back <= n; back++)
    {
      guint i = (self->fanout_slice_next - back) % NATTERD_FANOUT_SLICES_KEPT;
      gint64 start = MAX (self->fanout_slices[i].start, from);
      gint64 end = MIN (self->fanout_slices[i].end, to);

      if (self->fanout_slices[i].end <= from)
        break;
      if (end > start)
        us += end - start;
    }
  return us;
}

static gboolean
fanout_slice (gpointer user_data)
{
  NatterdServer *self = user_data;

  if (fanout_run_slice (self))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->fanout_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
fanout_jobs_clear (NatterdServer *self)
{
  if (self->fanout_source != NULL)
    {
      g_source_destroy (self->fanout_source);
      g_clear_pointer (&self->fanout_source, g_source_unref);
    }
  g_queue_clear_full (&self->fanout_jobs, (GDestroyNotify) fanout_job_free);
  g_queue_init (&self->fanout_jobs);
}

/* The committed group message to every online device of every member
 * (but @origin; the sender's other devices when the app syncs them), as
 * Deliver{seq 0}, after the sender's ack. Who gets it is decided now (the
 * members of this moment, copied: no look at each of them here); their
 * devices are looked up and the frames queued to them in slices from the
 * main loop, every group's messages in commit order, so other work
 * (reads, commits, acks) runs in between; natterd-socket.c's writer
 * thread does the writes. @lane's slot is given back once every
 * session's connection took it. */
static void
fanout_timeline (NatterdServer    *self,
                 NatterdApp       *app,
                 NatterdPublishOp *op,
                 NatterdSession   *origin,
                 Lane             *lane)
{
  NatterdMessage *m = &op->message;
  NatterdGroup *group = app != NULL ? g_hash_table_lookup (app->groups, m->target_id) : NULL;
  FanoutJob *job;
  Fanout *fanout;
  gboolean mentions;

  if (group == NULL || g_hash_table_size (group->members) == 0)
    return;

  fanout = g_new0 (Fanout, 1);
  fanout->lane = lane != NULL ? lane_ref (lane) : NULL;
  fanout->bytes = lane != NULL ? op_bytes (op) : 0;
  fanout->holds = 1;
  job = g_new0 (FanoutJob, 1);
  job->fanout = fanout;
  job->sender_id = op->sender_id;
  job->sender_devices = op->sender_devices;
  job->mention_all = op->mention_all;
  job->mention_ids = op->mention_ids != NULL ? g_array_ref (op->mention_ids) : NULL;
  job->origin = origin != NULL ? g_object_ref (origin) : NULL;
  job->target_id = g_strdup (m->target_id);
  job->seq = m->timeline_seq;
  mentions = op->mention_all || (op->mention_ids != NULL && op->mention_ids->len > 0);
  job->frames[0] = encode_timeline_deliver (m, FALSE, fanout);
  if (mentions)
    job->frames[1] = encode_timeline_deliver (m, TRUE, fanout);
  if (job->frames[0] == NULL || (mentions && job->frames[1] == NULL))
    {
      fanout_job_free (job);
      return;
    }
  job->members = g_hash_table_get_keys_as_array (group->members, &job->n_members);

  g_queue_push_tail (&self->fanout_jobs, job);
  /* Behind older ones: their source takes it in turn. Not a slice now:
   * this runs in a store completion, whose batch's other acks are
   * written after it (#18: the private acks committed with a group
   * message waited for its first slice). The socket loop's priority: one
   * slice each iteration, beside the reads and below the store's
   * completions, so neither starves. */
  if (self->fanout_source != NULL)
    return;
  self->fanout_source = fanout_pace_ms () > 0 ? g_timeout_source_new (fanout_pace_ms ()) : g_idle_source_new ();
  g_source_set_priority (self->fanout_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->fanout_source, fanout_slice, self, NULL);
  g_source_set_static_name (self->fanout_source, "[natterd] group fan-out");
  g_source_attach (self->fanout_source, g_main_context_get_thread_default ());
}

/* Chatrooms keep no history: a message is delivered to who is in the room
 * now and kept in the room's buffer of recent ones (for "join with the
 * last N") in memory, never stored, so nobody waits for a commit; its
 * webhook event is sent, not stored. A restart empties the buffers. It
 * has a uid (no message id in it: it cannot be recalled). */
static void
publish_chatroom (NatterdServer               *self,
                  const NatterdPublishRequest *request,
                  const char                  *channel,
                  NatterdPublishDone           done,
                  gpointer                     user_data)
{
  NatterdApp *app = request->app;
  NatterdChatroom *room = g_hash_table_lookup (app->chatrooms, request->target_id);
  char uid[20];
  NatterdMessage message = {
    .conversation_type = NATTER_CONVERSATION_CHATROOM,
    .sender_user_id = request->sender->user_id,
    .target_id = (char *) request->target_id,
    .object_name = (char *) request->object_name,
    .content = (char *) request->content,
    .push_content = request->push_content != NULL && *request->push_content != '\0' ?
                    (char *) request->push_content : NULL,
    .flags = request->flags,
    .sent_time = natterd_server_next_sent_time (self, channel),
  };
  gboolean persisted = (request->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0;

  natterd_message_uid_make (0, uid);
  message.uid = persisted ? uid : NULL;
  self->metrics->messages_published[NATTER_CONVERSATION_CHATROOM]++;
  done (NATTER_CODE_OK, message.uid, message.sent_time, 0, user_data);

  if (room == NULL)
    return;
  room->last_activity = g_get_monotonic_time ();
  if (persisted)
    natterd_server_chatroom_add_recent (room, &message);
  deliver_to_room (self, room, &message, request->origin);
  if (self->cluster != NULL)
    natterd_cluster_send_room (self->cluster, app, &message);
  if (persisted && app->settings.webhook_url != NULL)
    natterd_webhooks_add (self->webhooks, app, 0, natterd_webhook_event_body (&message));
}

static void
deliver_committed (NatterdServer    *self,
                   NatterdPublishOp *op,
                   NatterdSession   *origin,
                   Lane             *lane)
{
  NatterdMessage *m = &op->message;
  NatterdApp *app = NULL;

  for (guint i = 0; i < op->recipients->len; i++)
    {
      NatterdRecipient *r = &g_array_index (op->recipients, NatterdRecipient, i);
      NatterdUser *user;

      if (r->seq == 0)
        continue;
      user = natterd_directory_lookup_user_id (self->directory, r->user_id);
      if (user == NULL)
        continue;
      user->max_seq = MAX (user->max_seq, r->seq);
      if (self->cluster != NULL && user->remote_sessions > 0)
        natterd_cluster_send_inbox (self->cluster, user, r->seq, m);
      if (user->sessions == NULL)
        continue;
      for (guint s = 0; s < user->sessions->len; s++)
        {
          NatterdSession *session = g_ptr_array_index (user->sessions, s);

          if (session != origin)
            natterd_session_deliver_live (session, r->seq, m);
          else
            natterd_session_pass_own (session, r->seq);
        }
    }

  /* A private message without a webhook needs no app: no lookup (#17). */
  if (op->timeline || m->conversation_type == NATTER_CONVERSATION_CHATROOM || op->webhook_body != NULL)
    app = natterd_directory_lookup_app_id (self->directory, op->app_id);
  if (op->timeline)
    {
      if (self->cluster != NULL && app != NULL)
        natterd_cluster_send_timeline (self->cluster, app, m, op->sender_devices);
      fanout_timeline (self, app, op, origin, lane);
    }
  if (app != NULL && m->conversation_type == NATTER_CONVERSATION_CHATROOM)
    {
      NatterdChatroom *room = g_hash_table_lookup (app->chatrooms, m->target_id);

      if (room != NULL)
        {
          room->last_activity = g_get_monotonic_time ();
          if (m->flags & NATTER_MESSAGE_FLAG_PERSISTED)
            natterd_server_chatroom_add_recent (room, m);
          deliver_to_room (self, room, m, origin);
        }
      if (self->cluster != NULL)
        natterd_cluster_send_room (self->cluster, app, m);
    }

  if (app != NULL && op->webhook_body != NULL)
    natterd_webhooks_add (self->webhooks, app, m->id, g_steal_pointer (&op->webhook_body));
}

void
natterd_server_remote_inbox (NatterdServer        *self,
                             NatterdUser          *user,
                             guint64               seq,
                             const NatterdMessage *message)
{
  user->max_seq = MAX (user->max_seq, seq);
  if (user->sessions == NULL)
    return;
  for (guint s = 0; s < user->sessions->len; s++)
    natterd_session_deliver_remote (g_ptr_array_index (user->sessions, s), seq, message);
}

static void parse_mentions (NatterdPublishOp *op, NatterdApp *app, const char *content);

/* One copy per node: this node writes the shared frames to its members. */
void
natterd_server_remote_timeline (NatterdServer        *self,
                                NatterdApp           *app,
                                const NatterdMessage *message,
                                gboolean              sender_devices)
{
  NatterdPublishOp *op = natterd_op_new (NATTERD_OP_PUBLISH, NULL, NULL, NULL);
  NatterdUser *sender = natterd_directory_lookup_user (app, message->sender_user_id);

  op->app_id = app->id;
  op->sender_id = sender != NULL ? sender->id : -1;
  op->sender_devices = sender_devices;
  op->timeline = TRUE;
  op->message = *message;
  op->message.uid = g_strdup (message->uid);
  op->message.sender_user_id = g_strdup (message->sender_user_id);
  op->message.target_id = g_strdup (message->target_id);
  op->message.object_name = g_strdup (message->object_name);
  op->message.content = g_strdup (message->content);
  op->message.push_content = g_strdup (message->push_content);
  parse_mentions (op, app, message->content);
  fanout_timeline (self, app, op, NULL, NULL);
  natterd_op_free ((NatterdOp *) op);
}

void
natterd_server_remote_room (NatterdServer        *self,
                            NatterdApp           *app,
                            const NatterdMessage *message)
{
  NatterdChatroom *room = g_hash_table_lookup (app->chatrooms, message->target_id);

  if (room == NULL)
    return;
  room->last_activity = g_get_monotonic_time ();
  if (message->flags & NATTER_MESSAGE_FLAG_PERSISTED)
    natterd_server_chatroom_add_recent (room, message);
  deliver_to_room (self, room, message, NULL);
}

void
natterd_server_deliver_committed (NatterdServer    *self,
                                  NatterdPublishOp *op,
                                  NatterdSession   *origin)
{
  deliver_committed (self, op, origin, NULL);
}

NatterdPending *
natterd_pending_new (NatterdServer  *server,
                     NatterdSession *origin,
                     GCallback       func,
                     gpointer        user_data,
                     GDestroyNotify  destroy)
{
  NatterdPending *pending = g_new0 (NatterdPending, 1);

  pending->server = g_object_ref (server);
  pending->origin = origin != NULL ? g_object_ref (origin) : NULL;
  pending->func = func;
  pending->user_data = user_data;
  pending->destroy = destroy;
  return pending;
}

void
natterd_pending_free (gpointer data)
{
  NatterdPending *pending = data;

  if (pending->destroy != NULL)
    pending->destroy (pending->user_data);
  g_clear_object (&pending->origin);
  g_object_unref (pending->server);
  g_free (pending);
}

static void
publish_committed (NatterdOp *base,
                   gpointer   user_data)
{
  NatterdPublishOp *op = (NatterdPublishOp *) base;
  NatterdPending *pending = user_data;
  NatterdPublishDone done = (NatterdPublishDone) pending->func;
  NatterdServer *self = pending->server;
  NatterdMessage *m = &op->message;
  Lane *lane = op->timeline && self->fanout_lanes != NULL ? lane_lookup (self, op) : NULL;

  if (base->error != NULL || op->duplicate)
    {
      if (base->error == NULL)
        {
          self->metrics->messages_duplicate++;
          done (NATTER_CODE_OK, m->uid, m->sent_time, m->timeline_seq, pending->user_data);
        }
      else
        {
          /* Out of space is logged once by the store, not per message. */
          if (!natterd_store_error_is_full (base->error))
            natterd_log (G_LOG_LEVEL_WARNING, "publish-failed", "error", base->error->message, NULL);
          done (NATTER_CODE_SERVER_ERROR, NULL, 0, 0, pending->user_data);
        }
      if (lane != NULL)
        lane_done (lane, op_bytes (op));
      return;
    }

  /* The sender's ack goes first: the fan-out of an acked message never
   * delays it (a busy group holds the next message back instead). */
  if (op->timeline)
    {
      done (NATTER_CODE_OK, m->uid, m->sent_time, m->timeline_seq, pending->user_data);
      deliver_committed (self, op, pending->origin, lane);
      return;
    }
  natterd_server_deliver_committed (self, op, pending->origin);
  done (NATTER_CODE_OK, m->uid, m->sent_time, m->timeline_seq, pending->user_data);
  if (base->read != 0)
    {
      NatterdStageStamps stamps = {
        .read = base->read, .queued = base->queued, .taken = base->taken, .committed = base->committed,
        .synced_us = base->synced_us, .resumed = base->resumed, .sync_shared = base->sync_shared,
      };

      g_array_append_val (self->stage_stamps, stamps);
      stamps.ready = base->ready;
      g_array_append_val (self->ack_stamps, stamps);
    }
}

/* RC:TxtMsg's mentionedInfo ({"type": 1} everyone, {"type": 2,
 * "userIdList": [...]} these): kept with a group message for "@" marks.
 * Users not in the app are left out; at most the group's size. */
static void
parse_mentions (NatterdPublishOp *op,
                NatterdApp       *app,
                const char       *content)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *info;
  JsonNode *list;
  gint64 type;

  if (content == NULL || strstr (content, "mentionedInfo") == NULL)
    return;
  root = natter_json_parse (content, -1, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  list = json_object_get_member (json_node_get_object (root), "mentionedInfo");
  if (list == NULL || !JSON_NODE_HOLDS_OBJECT (list))
    return;
  info = json_node_get_object (list);
  list = json_object_get_member (info, "type");
  if (list == NULL || !JSON_NODE_HOLDS_VALUE (list) || json_node_get_value_type (list) != G_TYPE_INT64)
    return;
  type = json_node_get_int (list);
  if (type == 1)
    {
      op->mention_all = TRUE;
      return;
    }
  list = json_object_get_member (info, "userIdList");
  if (type != 2 || list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    return;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (list), i);
      NatterdUser *user;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        continue;
      user = natterd_directory_lookup_user (app, json_node_get_string (element));
      if (user == NULL)
        continue;
      if (op->mention_ids == NULL)
        op->mention_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      if (op->mention_ids->len >= NATTERD_MENTIONS_MAX)
        break;
      g_array_append_val (op->mention_ids, user->id);
    }
  if (op->mention_ids != NULL)
    g_array_sort (op->mention_ids, compare_ids);
}

/* NT:ClearCmd clears the sender's own history of a conversation (blocked,
 * left or muted alike), never a chatroom's (none kept); the API has no
 * "own" history to clear. */
static int
check_clear (const NatterdPublishRequest *request)
{
  if (request->from_api || request->conversation_type == NATTER_CONVERSATION_CHATROOM)
    return NATTER_CODE_INVALID_PARAMETER;
  return NATTER_CODE_OK;
}

/* Read receipts are for groups (private chats have RC:ReadNtf). */
static int
check_receipt (const NatterdPublishRequest *request)
{
  if ((strcmp (request->object_name, NATTER_OBJECT_RECEIPT_REQUEST) == 0 ||
       strcmp (request->object_name, NATTER_OBJECT_RECEIPT_RESPONSE) == 0) &&
      request->conversation_type != NATTER_CONVERSATION_GROUP &&
      request->conversation_type != NATTER_CONVERSATION_DISCUSSION)
    return NATTER_CODE_INVALID_PARAMETER;
  if (strcmp (request->object_name, NATTER_OBJECT_RECEIPT_RESPONSE) == 0)
    {
      g_autoptr(JsonNode) root = natter_json_parse (request->content, -1, NULL);
      JsonNode *dic = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ?
                      json_object_get_member (json_node_get_object (root), "receiptMessageDic") : NULL;

      if (dic == NULL || !JSON_NODE_HOLDS_OBJECT (dic))
        return NATTER_CODE_INVALID_PARAMETER;
    }
  return NATTER_CODE_OK;
}

/* A client's NT:ChrmNtf says it joined or left; that someone was
 * removed only natterd says (a server API block, #16). */
static int
check_chatroom_notice (const NatterdPublishRequest *request)
{
  g_autoptr(JsonNode) root = NULL;
  JsonNode *operation = NULL;
  const char *text = NULL;

  if (request->from_api || strcmp (request->object_name, NATTER_OBJECT_CHATROOM_NOTIFICATION) != 0)
    return NATTER_CODE_OK;
  root = natter_json_parse (request->content, -1, NULL);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    operation = json_object_get_member (json_node_get_object (root), "operation");
  if (operation != NULL && JSON_NODE_HOLDS_VALUE (operation) && json_node_get_value_type (operation) == G_TYPE_STRING)
    text = json_node_get_string (operation);
  if (g_strcmp0 (text, "Join") != 0 && g_strcmp0 (text, "Quit") != 0)
    return NATTER_CODE_INVALID_PARAMETER;
  return NATTER_CODE_OK;
}

static void
add_own_recipient (NatterdPublishOp *op,
                   gint64            user_id)
{
  NatterdRecipient recipient = {
    .user_id = user_id,
    .target_id = op->message.target_id,
    .inbox = TRUE,
  };

  g_array_append_val (op->recipients, recipient);
}

/* To the sender's devices only, in their inbox (offline ones learn of it
 * in order); the store clears the history before its sent_time, which
 * the content carries. */
static void
route_clear (NatterdPublishOp *op,
             NatterdUser      *sender)
{
  g_autoptr(JsonObject) content = json_object_new ();
  g_autoptr(JsonNode) node = NULL;

  json_object_set_int_member (content, "conversationType", op->message.conversation_type);
  json_object_set_string_member (content, "targetId", op->message.target_id);
  json_object_set_int_member (content, "clearTime", op->message.sent_time);
  node = json_node_init_object (json_node_alloc (), content);
  natterd_publish_op_clear_string (op, &op->message.content);
  op->message.content = json_to_string (node, FALSE);
  op->clear_history = TRUE;
  op->webhook = FALSE;
  add_own_recipient (op, sender->id);
}

/* RC:RRRspMsg goes to the inboxes of the senders it names (members of
 * the group but the responder), not on the timeline: nobody else needs
 * to know who read whose message. The store keeps who read which (the
 * uids it names of those senders), so the sender's other and later
 * devices learn it from history (#16). */
static void
route_receipt_response (NatterdServer    *self,
                        NatterdPublishOp *op,
                        NatterdApp       *app,
                        NatterdUser      *sender,
                        const char       *content)
{
  NatterdGroup *group = g_hash_table_lookup (app->groups, op->message.target_id);
  g_autoptr(JsonNode) root = natter_json_parse (content, -1, NULL);
  JsonNode *dic;
  g_autoptr(GList) names = NULL;

  if (group == NULL || root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  dic = json_object_get_member (json_node_get_object (root), "receiptMessageDic");
  if (dic == NULL || !JSON_NODE_HOLDS_OBJECT (dic))
    return;
  names = json_object_get_members (json_node_get_object (dic));
  for (GList *l = names; l != NULL; l = l->next)
    {
      NatterdUser *user = natterd_directory_lookup_user (app, l->data);
      JsonNode *uids;

      if (user == NULL || user == sender || natterd_group_lookup_member (group, user) == NULL)
        continue;
      add_own_recipient (op, user->id);
      uids = json_object_get_member (json_node_get_object (dic), l->data);
      if (uids == NULL || !JSON_NODE_HOLDS_ARRAY (uids))
        continue;
      for (guint i = 0; i < json_array_get_length (json_node_get_array (uids)); i++)
        {
          JsonNode *element = json_array_get_element (json_node_get_array (uids), i);
          NatterdReadMessage read = { .sender_id = user->id };

          if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
            continue;
          read.message_id = natterd_message_uid_to_id (json_node_get_string (element));
          if (read.message_id <= 0)
            continue;
          /* The store compares the whole uid, its random bits too. */
          g_strlcpy (read.uid, json_node_get_string (element), sizeof read.uid);
          if (op->read_messages == NULL)
            op->read_messages = g_array_new (FALSE, FALSE, sizeof (NatterdReadMessage));
          /* One answer marks at most as many as a client sends (200). */
          if (op->read_messages->len < NATTERD_READ_MESSAGES_MAX)
            g_array_append_val (op->read_messages, read);
        }
    }
  op->readers_max = g_hash_table_size (group->members);
}

void
natterd_server_publish (NatterdServer               *self,
                        const NatterdPublishRequest *request,
                        NatterdPublishDone           done,
                        gpointer                     user_data,
                        GDestroyNotify               destroy)
{
  g_autofree char *channel = NULL;
  NatterdPublishOp *op;
  int code;

  g_assert (request->conversation_type >= 0 && request->conversation_type <= 8);

  if (!request->from_api && !natterd_server_check_rate (self, request->sender))
    code = NATTER_CODE_SEND_TOO_FAST;
  else if (strcmp (request->object_name, NATTER_OBJECT_CLEAR_COMMAND) == 0)
    code = check_clear (request);
  else if ((code = check_route (self, request)) == NATTER_CODE_OK &&
           (code = check_receipt (request)) == NATTER_CODE_OK)
    code = check_chatroom_notice (request);

  if (code != NATTER_CODE_OK)
    {
      self->metrics->messages_refused++;
      done (code, NULL, 0, 0, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  channel = natterd_channel_key (request->conversation_type, request->sender->user_id,
                                 request->target_id);

  if (request->conversation_type == NATTER_CONVERSATION_CHATROOM &&
      !(request->flags & NATTER_MESSAGE_FLAG_STATUS))
    {
      publish_chatroom (self, request, channel, done, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  if (request->flags & NATTER_MESSAGE_FLAG_STATUS)
    {
      publish_status (self, request, channel);
      self->metrics->messages_published[0]++;
      done (NATTER_CODE_OK, NULL, natterd_now_ms (), 0, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  op = natterd_op_new (NATTERD_OP_PUBLISH, publish_committed,
                       natterd_pending_new (self, request->origin, G_CALLBACK (done), user_data, destroy),
                       natterd_pending_free);
  op->base.read = request->read_time;
  op->app_id = request->app->id;
  op->sender_id = request->sender->id;
  natterd_publish_op_set_strings (op, request->client_msg_id != NULL ? request->device_id : NULL,
                                  request->client_msg_id, request->sender->user_id, request->target_id,
                                  request->object_name, request->content,
                                  request->push_content != NULL && *request->push_content != '\0' ?
                                  request->push_content : NULL);
  op->message.conversation_type = request->conversation_type;
  op->message.flags = request->flags;
  op->message.sent_time = natterd_server_next_sent_time (self, channel);
  op->webhook = (request->flags & NATTER_MESSAGE_FLAG_PERSISTED) && request->app->settings.webhook_url != NULL;
  op->channel = g_steal_pointer (&channel);

  if (strcmp (request->object_name, NATTER_OBJECT_CLEAR_COMMAND) == 0)
    route_clear (op, request->sender);
  else if (strcmp (request->object_name, NATTER_OBJECT_RECEIPT_RESPONSE) == 0)
    route_receipt_response (self, op, request->app, request->sender, request->content);
  else
    natterd_server_add_conversation_recipients (self, op, request->app, request->sender,
                                                request->conversation_type, request->target_id,
                                                request->app->settings.multi_device || request->include_sender,
                                                (request->flags & NATTER_MESSAGE_FLAG_COUNTED) != 0);

  if (op->timeline)
    parse_mentions (op, request->app, request->content);

  self->metrics->messages_published[request->conversation_type]++;
  if (op->timeline && self->fanout_lanes != NULL)
    lane_submit (self, request->app, op);
  else
    natterd_store_submit (self->store, op);
}
