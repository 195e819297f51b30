/* natterd-store.c — the backend-neutral half: threads, group commit, retry
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store.h"

#include "natter-codes.h"
#include "natterd-crypto.h"
#include "natterd-free-list.h"
#include "natterd-log.h"
#include "natterd-sched.h"

#include "natter-json.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/statvfs.h>

G_DEFINE_QUARK (natterd-store-error-quark, natterd_store_error)

gboolean
natterd_store_error_is_full (const GError *error)
{
  return g_error_matches (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FULL) ||
         g_error_matches (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE);
}

/* ---------------------------------------------------------------- records */

void
natterd_message_clear (NatterdMessage *message)
{
  g_clear_pointer (&message->uid, g_free);
  g_clear_pointer (&message->sender_user_id, g_free);
  g_clear_pointer (&message->target_id, g_free);
  g_clear_pointer (&message->object_name, g_free);
  g_clear_pointer (&message->content, g_free);
  g_clear_pointer (&message->push_content, g_free);
  g_clear_pointer (&message->readers, g_ptr_array_unref);
}

void
natterd_reader_free (NatterdReader *reader)
{
  g_free (reader->user_id);
  g_free (reader);
}

NatterdMessage *
natterd_message_copy (const NatterdMessage *message)
{
  NatterdMessage *copy = g_new (NatterdMessage, 1);

  *copy = *message;
  copy->uid = g_strdup (message->uid);
  copy->sender_user_id = g_strdup (message->sender_user_id);
  copy->target_id = g_strdup (message->target_id);
  copy->object_name = g_strdup (message->object_name);
  copy->content = g_strdup (message->content);
  copy->push_content = g_strdup (message->push_content);
  copy->readers = NULL;
  if (message->readers != NULL)
    {
      copy->readers = g_ptr_array_new_full (message->readers->len, (GDestroyNotify) natterd_reader_free);
      for (guint i = 0; i < message->readers->len; i++)
        {
          const NatterdReader *reader = g_ptr_array_index (message->readers, i);
          NatterdReader *r = g_new (NatterdReader, 1);

          r->user_id = g_strdup (reader->user_id);
          r->read_time = reader->read_time;
          g_ptr_array_add (copy->readers, r);
        }
    }
  return copy;
}

void
natterd_message_free (NatterdMessage *message)
{
  if (message == NULL)
    return;
  natterd_message_clear (message);
  g_free (message);
}

char *
natterd_recall_notification (const char *operator_id,
                             gint64      recall_time,
                             const char *original_object_name)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "operatorId");
  json_builder_add_string_value (builder, operator_id);
  json_builder_set_member_name (builder, "recallTime");
  json_builder_add_int_value (builder, recall_time);
  json_builder_set_member_name (builder, "originalObjectName");
  json_builder_add_string_value (builder, original_object_name);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/* Crockford's base32: no I, L, O, U, so a uid read aloud is unambiguous. */
static const char uid_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Random bytes for uids come from getrandom() a block at a time, per
 * thread (the store's writer, the router): one getrandom() per message was
 * 4 % of natterd's CPU in the closed loop. Each byte is handed out once. */
#define UID_RANDOM_BLOCK 4000

typedef struct
{
  gsize  used;
  guint8 bytes[UID_RANDOM_BLOCK];
} UidRandom;

static GPrivate uid_random_key = G_PRIVATE_INIT (g_free);

static void
uid_random (guint8 *out,
            gsize   length)
{
  UidRandom *pool = g_private_get (&uid_random_key);

  if (pool == NULL)
    {
      pool = g_new (UidRandom, 1);
      pool->used = UID_RANDOM_BLOCK;
      g_private_set (&uid_random_key, pool);
    }
  if (pool->used + length > UID_RANDOM_BLOCK)
    {
      natterd_random_bytes (pool->bytes, UID_RANDOM_BLOCK);
      pool->used = 0;
    }
  memcpy (out, pool->bytes + pool->used, length);
  /* What was given out is not left for a core dump to show. */
  explicit_bzero (pool->bytes + pool->used, length);
  pool->used += length;
}

void
natterd_message_uid_make (gint64 id,
                          char   out[20])
{
  guint64 high = (guint64) id & G_GUINT64_CONSTANT (0xFFFFFFFFFF);
  guint8 random[5];
  guint64 low = 0;
  char digits[16];

  /* 40 unguessable bits: knowing one uid does not give the next. */
  uid_random (random, sizeof random);
  for (guint i = 0; i < sizeof random; i++)
    low = low << 8 | random[i];

  for (int i = 7; i >= 0; i--, high >>= 5)
    digits[i] = uid_alphabet[high & 31];
  for (int i = 15; i >= 8; i--, low >>= 5)
    digits[i] = uid_alphabet[low & 31];

  for (int group = 0, o = 0; group < 4; group++)
    {
      memcpy (out + o, digits + group * 4, 4);
      o += 4;
      out[o++] = group < 3 ? '-' : '\0';
    }
}

gint64
natterd_message_uid_to_id (const char *uid)
{
  guint64 id = 0;
  guint digits = 0;

  if (uid == NULL || strlen (uid) != 19)
    return 0;

  for (guint i = 0; i < 19; i++)
    {
      const char *at;

      if (i % 5 == 4)
        {
          if (uid[i] != '-')
            return 0;
          continue;
        }

      at = strchr (uid_alphabet, g_ascii_toupper (uid[i]));
      if (at == NULL || *at == '\0')
        return 0;
      if (digits++ < 8)
        id = id << 5 | (guint64) (at - uid_alphabet);
    }

  return (gint64) id;
}

static const char *
channel_type (int conversation_type)
{
  switch (conversation_type)
    {
    case NATTER_CONVERSATION_PRIVATE: return "PERSON";
    case NATTER_CONVERSATION_DISCUSSION: return "TEMPGROUP";
    case NATTER_CONVERSATION_GROUP: return "GROUP";
    case NATTER_CONVERSATION_CHATROOM: return "CHATROOM";
    case NATTER_CONVERSATION_CUSTOMER_SERVICE: return "CUSTOMER_SERVICE";
    case NATTER_CONVERSATION_SYSTEM: return "SYSTEM";
    case NATTER_CONVERSATION_APP_PUBLIC_SERVICE: return "APP_PUBLIC_SERVICE";
    case NATTER_CONVERSATION_PUBLIC_SERVICE: return "PUBLIC_SERVICE";
    default: return "UNKNOWN";
    }
}

static void
append_field (GString    *out,
              const char *name,
              const char *value)
{
  g_autofree char *escaped = g_uri_escape_string (value != NULL ? value : "", NULL, FALSE);

  if (out->len > 0)
    g_string_append_c (out, '&');
  g_string_append_printf (out, "%s=%s", name, escaped);
}

char *
natterd_webhook_event_body (const NatterdMessage *message)
{
  GString *body = g_string_sized_new (256 + (message->content != NULL ? strlen (message->content) : 0));
  char number[24];

  append_field (body, "fromUserId", message->sender_user_id);
  append_field (body, "toUserId", message->target_id);
  append_field (body, "objectName", message->object_name);
  append_field (body, "content", message->content);
  append_field (body, "channelType", channel_type (message->conversation_type));
  g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, message->sent_time);
  append_field (body, "msgTimestamp", number);
  append_field (body, "msgUID", message->uid);
  append_field (body, "source", "natterd");
  return g_string_free (body, FALSE);
}

void
natterd_webhook_event_free (NatterdWebhookEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->body);
  g_free (event);
}

void
natterd_app_record_free (NatterdAppRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->app_key);
  g_free (record->app_secret);
  g_free (record->app_secret_old);
  g_free (record->name);
  g_clear_pointer (&record->token_key, g_bytes_unref);
  g_free (record->settings);
  g_free (record);
}

/* --------------------------------------------------------------------- ops */

static const gsize op_sizes[] = {
  [NATTERD_OP_BARRIER] = sizeof (NatterdOp),
  [NATTERD_OP_USER] = sizeof (NatterdUserOp),
  [NATTERD_OP_DEVICES] = sizeof (NatterdDevicesOp),
  [NATTERD_OP_PUBLISH] = sizeof (NatterdPublishOp),
  [NATTERD_OP_RECALL] = sizeof (NatterdRecallOp),
  [NATTERD_OP_CONVERSATION] = sizeof (NatterdConversationOp),
  [NATTERD_OP_GROUP] = sizeof (NatterdGroupOp),
  [NATTERD_OP_MEMBERS] = sizeof (NatterdMembersOp),
  [NATTERD_OP_CHATROOM] = sizeof (NatterdChatroomOp),
  [NATTERD_OP_BLACKLIST] = sizeof (NatterdBlacklistOp),
  [NATTERD_OP_MEDIA] = sizeof (NatterdMediaOp),
  [NATTERD_OP_PRUNE] = sizeof (NatterdPruneOp),
  [NATTERD_OP_NONCE] = sizeof (NatterdNonceOp),
  [NATTERD_OP_WEBHOOK_DONE] = sizeof (NatterdWebhookDoneOp),
  [NATTERD_OP_ACCOUNT] = sizeof (NatterdAccountOp),
  [NATTERD_OP_LOGIN] = sizeof (NatterdLoginOp),
};

void
natterd_account_row_free (gpointer data)
{
  NatterdAccountRow *row = data;

  g_free (row->kind);
  g_free (row->owner);
  g_free (row->name);
  g_free (row->value);
  g_free (row->patch);
  g_free (row);
}

NatterdAccountRow *
natterd_account_op_add (NatterdAccountOp *op,
                        gint64            app_id,
                        const char       *kind,
                        const char       *owner,
                        const char       *name,
                        const char       *value)
{
  NatterdAccountRow *row = g_new0 (NatterdAccountRow, 1);

  row->app_id = app_id;
  row->kind = g_strdup (kind);
  row->owner = g_strdup (owner != NULL ? owner : "");
  row->name = g_strdup (name != NULL ? name : "");
  row->value = g_strdup (value);
  g_ptr_array_add (op->rows, row);
  return row;
}

static void
clear_device (gpointer data)
{
  NatterdDeviceRecord *device = data;

  g_free (device->device_id);
  g_free (device->platform);
}

/* Publish ops, with their recipients arrays, are reused (#17,
 * natterd-free-list.h): the op, the array and its data cost ~450
 * instructions a message in malloc and free. */
#define PUBLISH_POOL_MAX 512
#define PUBLISH_POOL_RECIPIENTS 8     /* an array that grew past this is freed */

static NatterdFreeList publish_pool;

static NatterdOp *
publish_pool_pop (void)
{
  NatterdPublishOp *op = natterd_free_list_pop (&publish_pool);
  GArray *recipients;

  if (op == NULL)
    return NULL;
  recipients = op->recipients;
  memset (op, 0, sizeof (NatterdPublishOp));
  g_array_set_size (recipients, 0);
  op->recipients = recipients;
  return &op->base;
}

gpointer
natterd_op_new (NatterdOpKind  kind,
                NatterdOpFunc  complete,
                gpointer       user_data,
                GDestroyNotify destroy)
{
  NatterdOp *op;

  g_return_val_if_fail (kind < G_N_ELEMENTS (op_sizes), NULL);

  op = kind == NATTERD_OP_PUBLISH ? publish_pool_pop () : NULL;
  if (op == NULL)
    op = g_malloc0 (op_sizes[kind]);
  op->kind = kind;
  op->complete = complete;
  op->user_data = user_data;
  op->destroy = destroy;
  op->submitted = g_get_monotonic_time ();

  switch (kind)
    {
    case NATTERD_OP_DEVICES:
      ((NatterdDevicesOp *) op)->devices = g_array_new (FALSE, TRUE, sizeof (NatterdDeviceRecord));
      g_array_set_clear_func (((NatterdDevicesOp *) op)->devices, clear_device);
      break;
    case NATTERD_OP_PUBLISH:
      /* A private message's two (target, sender): one allocation, not two
       * reallocs; a reused op keeps its own. */
      if (((NatterdPublishOp *) op)->recipients == NULL)
        ((NatterdPublishOp *) op)->recipients = g_array_sized_new (FALSE, TRUE, sizeof (NatterdRecipient), 2);
      break;
    case NATTERD_OP_MEMBERS:
      ((NatterdMembersOp *) op)->user_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      break;
    case NATTERD_OP_BLACKLIST:
      ((NatterdBlacklistOp *) op)->blocked_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      break;
    case NATTERD_OP_WEBHOOK_DONE:
      ((NatterdWebhookDoneOp *) op)->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      break;
    case NATTERD_OP_ACCOUNT:
      ((NatterdAccountOp *) op)->rows = g_ptr_array_new_with_free_func (natterd_account_row_free);
      break;
    case NATTERD_OP_BARRIER:
    case NATTERD_OP_USER:
    case NATTERD_OP_RECALL:
    case NATTERD_OP_CONVERSATION:
    case NATTERD_OP_GROUP:
    case NATTERD_OP_CHATROOM:
    case NATTERD_OP_MEDIA:
    case NATTERD_OP_PRUNE:
    case NATTERD_OP_NONCE:
    default:
      break;
    }

  return op;
}

/* An edit replaces the text: the stored expansion stays with it, and a
 * reply keeps what it quotes (its sender edits the reply, not the quote). */
char *
natterd_expansion_keep (const char *stored,
                        const char *edited)
{
  static const char * const kept[] = { "expansion", "referMsg", "referMsgUserId", "objName", "referMsgUid" };
  g_autoptr(JsonNode) old = stored != NULL ? natter_json_parse (stored, -1, NULL) : NULL;
  g_autoptr(JsonNode) root = natter_json_parse (edited, -1, NULL);
  gboolean changed = FALSE;

  if (old == NULL || !JSON_NODE_HOLDS_OBJECT (old) || root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return g_strdup (edited);
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      JsonNode *member = json_object_get_member (json_node_get_object (old), kept[i]);

      if (member == NULL)
        continue;
      json_object_set_member (json_node_get_object (root), kept[i], json_node_copy (member));
      changed = TRUE;
    }
  return changed ? json_to_string (root, FALSE) : g_strdup (edited);
}

/* Both stores, on their writer thread: the stored content's "expansion"
 * object (present since the message was sent with expansion enabled) gets
 * @set and loses @remove. Returns 0, 25104 or 25105. */
int
natterd_expansion_apply (const char  *content,
                         JsonObject  *set,
                         char       **remove,
                         char       **new_content)
{
  g_autoptr(JsonNode) root = content != NULL ? natter_json_parse (content, -1, NULL) : NULL;
  JsonObject *expansion;
  JsonNode *member;
  g_autoptr(GList) keys = NULL;

  member = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
             ? json_object_get_member (json_node_get_object (root), "expansion") : NULL;
  if (member == NULL || !JSON_NODE_HOLDS_OBJECT (member))
    return NATTER_CODE_EXPANSION_NOT_ENABLED;
  expansion = json_node_get_object (member);

  keys = json_object_get_members (set);
  for (GList *l = keys; l != NULL; l = l->next)
    json_object_set_member (expansion, l->data, json_node_copy (json_object_get_member (set, l->data)));
  for (guint i = 0; remove != NULL && remove[i] != NULL; i++)
    if (json_object_has_member (expansion, remove[i]))
      json_object_remove_member (expansion, remove[i]);
  if (json_object_get_size (expansion) > NATTER_EXPANSION_MESSAGE_MAX_KEYS)
    return NATTER_CODE_EXPANSION_TOO_MANY_KEYS;

  *new_content = json_to_string (root, FALSE);
  return NATTER_CODE_OK;
}

void
natterd_op_free (NatterdOp *op)
{
  if (op == NULL)
    return;

  if (op->destroy != NULL)
    op->destroy (op->user_data);
  g_clear_error (&op->error);

  switch (op->kind)
    {
    case NATTERD_OP_USER:
      {
        NatterdUserOp *u = (NatterdUserOp *) op;
        g_free (u->user_id);
        g_free (u->name);
        g_free (u->portrait_uri);
      }
      break;
    case NATTERD_OP_DEVICES:
      g_array_unref (((NatterdDevicesOp *) op)->devices);
      break;
    case NATTERD_OP_PUBLISH:
      {
        NatterdPublishOp *p = (NatterdPublishOp *) op;
        if (p->strings != NULL)
          {
            natterd_publish_op_clear_string (p, &p->device_id);
            natterd_publish_op_clear_string (p, &p->client_msg_id);
            natterd_publish_op_clear_string (p, &p->message.sender_user_id);
            natterd_publish_op_clear_string (p, &p->message.target_id);
            natterd_publish_op_clear_string (p, &p->message.object_name);
            natterd_publish_op_clear_string (p, &p->message.content);
            natterd_publish_op_clear_string (p, &p->message.push_content);
            g_free (p->strings);
          }
        g_free (p->device_id);
        g_free (p->client_msg_id);
        g_free (p->channel);
        g_free (p->webhook_body);
        natterd_message_clear (&p->message);
        g_clear_pointer (&p->mention_ids, g_array_unref);
        g_clear_pointer (&p->read_messages, g_array_unref);
        /* Its fields are cleared: the op can go to the pool. */
        if (p->recipients->len <= PUBLISH_POOL_RECIPIENTS &&
            natterd_free_list_push (&publish_pool, p, PUBLISH_POOL_MAX))
          return;
        g_array_unref (p->recipients);
      }
      break;
    case NATTERD_OP_RECALL:
      {
        NatterdRecallOp *r = (NatterdRecallOp *) op;
        g_free (r->uid);
        g_free (r->channel);
        g_free (r->operator_id);
        g_free (r->edit_content);
        g_clear_pointer (&r->expansion_set, json_object_unref);
        g_strfreev (r->expansion_remove);
        natterd_op_free ((NatterdOp *) r->command);
        natterd_message_clear (&r->original);
      }
      break;
    case NATTERD_OP_CONVERSATION:
      g_free (((NatterdConversationOp *) op)->target_id);
      break;
    case NATTERD_OP_GROUP:
      g_free (((NatterdGroupOp *) op)->group_id);
      g_free (((NatterdGroupOp *) op)->name);
      break;
    case NATTERD_OP_MEMBERS:
      g_array_unref (((NatterdMembersOp *) op)->user_ids);
      g_free (((NatterdMembersOp *) op)->timeline_id);
      break;
    case NATTERD_OP_CHATROOM:
      g_free (((NatterdChatroomOp *) op)->chatroom_id);
      g_free (((NatterdChatroomOp *) op)->name);
      break;
    case NATTERD_OP_BLACKLIST:
      g_array_unref (((NatterdBlacklistOp *) op)->blocked_ids);
      break;
    case NATTERD_OP_MEDIA:
      g_free (((NatterdMediaOp *) op)->hash);
      g_free (((NatterdMediaOp *) op)->content_type);
      g_free (((NatterdMediaOp *) op)->name);
      break;
    case NATTERD_OP_NONCE:
      g_free (((NatterdNonceOp *) op)->nonce);
      break;
    case NATTERD_OP_WEBHOOK_DONE:
      g_array_unref (((NatterdWebhookDoneOp *) op)->ids);
      break;
    case NATTERD_OP_ACCOUNT:
      g_ptr_array_unref (((NatterdAccountOp *) op)->rows);
      break;
    case NATTERD_OP_LOGIN:
      g_free (((NatterdLoginOp *) op)->user_id);
      g_free (((NatterdLoginOp *) op)->address);
      break;
    case NATTERD_OP_BARRIER:
    case NATTERD_OP_PRUNE:
    default:
      break;
    }

  g_free (op);
}

void
natterd_publish_op_set_strings (NatterdPublishOp *op,
                                const char       *device_id,
                                const char       *client_msg_id,
                                const char       *sender_user_id,
                                const char       *target_id,
                                const char       *object_name,
                                const char       *content,
                                const char       *push_content)
{
  const char *in[] = { device_id, client_msg_id, sender_user_id, target_id, object_name, content, push_content };
  char **out[] = { &op->device_id, &op->client_msg_id, &op->message.sender_user_id, &op->message.target_id,
                   &op->message.object_name, &op->message.content, &op->message.push_content };
  gsize lengths[G_N_ELEMENTS (in)];
  gsize size = 0;
  char *at;

  g_return_if_fail (op->strings == NULL);
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    {
      g_return_if_fail (*out[i] == NULL);
      lengths[i] = in[i] != NULL ? strlen (in[i]) + 1 : 0;
      size += lengths[i];
    }
  op->strings = at = g_malloc (MAX (size, 1));
  op->strings_size = size;
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    {
      *out[i] = in[i] != NULL ? memcpy (at, in[i], lengths[i]) : NULL;
      at += lengths[i];
    }
}

void
natterd_publish_op_clear_string (NatterdPublishOp  *op,
                                 char             **field)
{
  guintptr at = (guintptr) *field, start = (guintptr) op->strings;

  if (op->strings == NULL || at < start || at >= start + op->strings_size)
    g_free (*field);
  *field = NULL;
}

static void
inbox_entry_free (gpointer data)
{
  NatterdInboxEntry *entry = data;

  natterd_message_clear (&entry->message);
  g_free (entry);
}

static void
conversation_free (gpointer data)
{
  NatterdConversation *conversation = data;

  g_free (conversation->target_id);
  natterd_message_free (conversation->latest);
  g_free (conversation);
}

static const gsize read_sizes[] = {
  [NATTERD_READ_REPLAY] = sizeof (NatterdReplayRead),
  [NATTERD_READ_HISTORY] = sizeof (NatterdHistoryRead),
  [NATTERD_READ_CONVERSATIONS] = sizeof (NatterdConversationsRead),
  [NATTERD_READ_MEDIA] = sizeof (NatterdMediaRead),
  [NATTERD_READ_EXPORT] = sizeof (NatterdExportRead),
  [NATTERD_READ_APPS] = sizeof (NatterdAppsRead),
  [NATTERD_READ_WEBHOOK_EVENTS] = sizeof (NatterdWebhookEventsRead),
  [NATTERD_READ_MEDIA_USAGE] = sizeof (NatterdMediaUsageRead),
  [NATTERD_READ_TIMELINE_SYNC] = sizeof (NatterdTimelineSyncRead),
  [NATTERD_READ_TIMELINE] = sizeof (NatterdTimelineRead),
  [NATTERD_READ_ACCOUNT_ROWS] = sizeof (NatterdAccountRowsRead),
  [NATTERD_READ_LOGIN] = sizeof (NatterdLoginRead),
  [NATTERD_READ_USER_GROUPS] = sizeof (NatterdUserGroupsRead),
  [NATTERD_READ_USER] = sizeof (NatterdUserRead),
  [NATTERD_READ_MEMBERS] = sizeof (NatterdMembersRead),
};

void
natterd_timeline_state_free (NatterdTimelineState *state)
{
  if (state == NULL)
    return;
  g_free (state->target_id);
  g_free (state);
}

gpointer
natterd_read_new (NatterdReadKind kind,
                  NatterdReadFunc complete,
                  gpointer        user_data,
                  GDestroyNotify  destroy)
{
  NatterdRead *read;

  g_return_val_if_fail (kind < G_N_ELEMENTS (read_sizes), NULL);

  read = g_malloc0 (read_sizes[kind]);
  read->kind = kind;
  read->complete = complete;
  read->user_data = user_data;
  read->destroy = destroy;

  switch (kind)
    {
    case NATTERD_READ_REPLAY:
      ((NatterdReplayRead *) read)->entries = g_ptr_array_new_with_free_func (inbox_entry_free);
      break;
    case NATTERD_READ_HISTORY:
      ((NatterdHistoryRead *) read)->messages =
        g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_message_free);
      break;
    case NATTERD_READ_CONVERSATIONS:
      ((NatterdConversationsRead *) read)->types = g_array_new (FALSE, FALSE, sizeof (int));
      ((NatterdConversationsRead *) read)->conversations = g_ptr_array_new_with_free_func (conversation_free);
      break;
    case NATTERD_READ_APPS:
      ((NatterdAppsRead *) read)->apps =
        g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);
      ((NatterdAppsRead *) read)->user_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      ((NatterdAppsRead *) read)->changed = g_ptr_array_new_with_free_func (g_free);
      break;
    case NATTERD_READ_WEBHOOK_EVENTS:
      ((NatterdWebhookEventsRead *) read)->events =
        g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_webhook_event_free);
      break;
    case NATTERD_READ_MEDIA_USAGE:
      ((NatterdMediaUsageRead *) read)->usage = g_array_new (FALSE, FALSE, sizeof (NatterdMediaUsage));
      break;
    case NATTERD_READ_TIMELINE_SYNC:
      ((NatterdTimelineSyncRead *) read)->timelines =
        g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_timeline_state_free);
      break;
    case NATTERD_READ_TIMELINE:
      ((NatterdTimelineRead *) read)->messages =
        g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_message_free);
      break;
    case NATTERD_READ_ACCOUNT_ROWS:
      ((NatterdAccountRowsRead *) read)->rows = g_ptr_array_new_with_free_func (natterd_account_row_free);
      ((NatterdAccountRowsRead *) read)->deleted = g_ptr_array_new_with_free_func (natterd_account_row_free);
      break;
    case NATTERD_READ_USER_GROUPS:
      ((NatterdUserGroupsRead *) read)->group_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      ((NatterdUserGroupsRead *) read)->member_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      break;
    case NATTERD_READ_USER:
      ((NatterdUserRead *) read)->rows = g_ptr_array_new_with_free_func (natterd_account_row_free);
      ((NatterdUserRead *) read)->groups = natterd_load_log_new ();
      break;
    case NATTERD_READ_MEMBERS:
      ((NatterdMembersRead *) read)->user_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      ((NatterdMembersRead *) read)->members = g_array_new (FALSE, FALSE, sizeof (NatterdMemberRow));
      break;
    case NATTERD_READ_MEDIA:
    case NATTERD_READ_EXPORT:
    default:
      break;
    }

  return read;
}

void
natterd_read_free (NatterdRead *read)
{
  if (read == NULL)
    return;

  if (read->destroy != NULL)
    read->destroy (read->user_data);
  g_clear_error (&read->error);

  switch (read->kind)
    {
    case NATTERD_READ_ACCOUNT_ROWS:
      g_free (((NatterdAccountRowsRead *) read)->kind);
      g_free (((NatterdAccountRowsRead *) read)->owner);
      g_ptr_array_unref (((NatterdAccountRowsRead *) read)->rows);
      g_free (((NatterdAccountRowsRead *) read)->since);
      g_ptr_array_unref (((NatterdAccountRowsRead *) read)->deleted);
      break;
    case NATTERD_READ_LOGIN:
      g_free (((NatterdLoginRead *) read)->user_id);
      g_free (((NatterdLoginRead *) read)->hash);
      g_free (((NatterdLoginRead *) read)->address);
      break;
    case NATTERD_READ_USER_GROUPS:
      g_array_unref (((NatterdUserGroupsRead *) read)->group_ids);
      g_array_unref (((NatterdUserGroupsRead *) read)->member_ids);
      break;
    case NATTERD_READ_USER:
      {
        NatterdUserRead *u = (NatterdUserRead *) read;
        g_free (u->user_id);
        g_free ((char *) u->user.user_id);
        g_free ((char *) u->user.name);
        g_free ((char *) u->user.portrait_uri);
        g_ptr_array_unref (u->rows);
        natterd_load_log_free (u->groups);
      }
      break;
    case NATTERD_READ_MEMBERS:
      g_free (((NatterdMembersRead *) read)->group_id);
      g_array_unref (((NatterdMembersRead *) read)->user_ids);
      g_array_unref (((NatterdMembersRead *) read)->members);
      break;
    case NATTERD_READ_REPLAY:
      g_ptr_array_unref (((NatterdReplayRead *) read)->entries);
      break;
    case NATTERD_READ_HISTORY:
      g_free (((NatterdHistoryRead *) read)->channel);
      g_free (((NatterdHistoryRead *) read)->timeline_id);
      g_free (((NatterdHistoryRead *) read)->target_id);
      g_ptr_array_unref (((NatterdHistoryRead *) read)->messages);
      break;
    case NATTERD_READ_CONVERSATIONS:
      {
        NatterdConversationsRead *c = (NatterdConversationsRead *) read;
        g_array_unref (c->types);
        g_free (c->cursor_target);
        g_ptr_array_unref (c->conversations);
      }
      break;
    case NATTERD_READ_MEDIA:
      {
        NatterdMediaRead *m = (NatterdMediaRead *) read;
        g_free (m->hash);
        g_free (m->content_type);
        g_free (m->name);
      }
      break;
    case NATTERD_READ_EXPORT:
      g_free (((NatterdExportRead *) read)->path);
      break;
    case NATTERD_READ_APPS:
      {
        NatterdAppsRead *a = (NatterdAppsRead *) read;
        g_ptr_array_unref (a->apps);
        g_free (a->since);
        g_array_unref (a->user_ids);
        g_ptr_array_unref (a->changed);
        g_free (a->horizon);
      }
      break;
    case NATTERD_READ_WEBHOOK_EVENTS:
      g_ptr_array_unref (((NatterdWebhookEventsRead *) read)->events);
      break;
    case NATTERD_READ_MEDIA_USAGE:
      g_array_unref (((NatterdMediaUsageRead *) read)->usage);
      break;
    case NATTERD_READ_TIMELINE_SYNC:
      g_free (((NatterdTimelineSyncRead *) read)->after_target);
      g_ptr_array_unref (((NatterdTimelineSyncRead *) read)->timelines);
      break;
    case NATTERD_READ_TIMELINE:
      g_free (((NatterdTimelineRead *) read)->target_id);
      g_ptr_array_unref (((NatterdTimelineRead *) read)->messages);
      break;
    default:
      break;
    }

  g_free (read);
}

/* ------------------------------------------------------------------- store */

/* Sync threads (see syncer_main()). */
#define N_SYNCERS 2

typedef struct
{
  GMainContext *context;        /* where completions run */
  GThread      *writer;
  GThreadPool  *readers;
  guint64       reads_queued;   /* the order of the next read, guarded by lock */
  guint         batch_max;

  GMutex        lock;
  GCond         wake;
  GQueue        queue;          /* NatterdOp, guarded by lock */
  gboolean      stopping;
  guint         held;           /* natterd_store_hold() calls not released */
  guint         in_flight;      /* ops taken by the writer, not yet completed */
  gint          batches_ready;  /* atomic: batches queued to context, not yet completed */
  gboolean      writer_waiting; /* the writer sleeps on wake: signal it */
  gint64        batch_sync_us;  /* writer: natterd_store_note_sync() this batch */
  gboolean      batch_sync_shared;

  /* Pipelined commits (a backend with sync()): batches committed, not yet
   * durable, and the syncs under way, guarded by lock. */
  GThread      *syncers[N_SYNCERS];
  GCond         sync_wake;
  GQueue        sync_queue;     /* Batch */
  GQueue        syncing;        /* SyncRound, in the order they began */
  guint         syncers_waiting;
  gboolean      sync_stopping;

  NatterdBatchObserver observer;
  gpointer      observer_data;

  /* Space (see natterd_store_set_min_free()). */
  char         *space_path;
  guint64       min_free;
  gint64        retry_at;       /* writer: after a write failed for space, refused until then */
  gboolean      retry_unreachable; /* writer: that failure was the store unreachable, not space */
  gboolean      full;           /* writer: refusing; logged once when it starts and ends */
  int           full_flag;      /* the same, atomic, for metrics */
  int           unreachable_flag; /* atomic: refused because the store is unreachable, not for space */
  guint64       refused;        /* guarded by lock */
  GHashTable   *unstored_users; /* writer: gint64 ids whose first row could not be stored */
  GHashTable   *unstored_groups; /* writer: the same for groups */
} NatterdStorePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (NatterdStore, natterd_store, G_TYPE_OBJECT)

typedef struct
{
  NatterdStore *store;
  GPtrArray    *ops;
  gint64        duration;
  gint64        taken;          /* the writer took it */
} Batch;

/* One sync thread's sync and the batches it makes durable. */
typedef struct
{
  Batch   *batch;
  gboolean done;                /* the sync returned; guarded by lock */
  GError  *failed;              /* an earlier sync failed while this one ran */
} SyncRound;

/* Runs @func in the thread that iterates @context (the server's loop).
 * Not g_main_context_invoke(): from a worker it calls @func right there
 * whenever it can acquire @context (the loop not running, at start-up or
 * shutdown), and the completions would race the main thread.
 *
 * Above the sockets' priority (#17, the wakeup stage): when both are
 * ready, the durable batch's acks and deliveries go out before the loop
 * reads and parses the next frames, not after (the socket source was
 * attached first, so at the same priority it was dispatched first). The
 * completions are a few a millisecond at most: reading is never starved. */
static void
complete_on_context (GMainContext *context,
                     GSourceFunc   func,
                     gpointer      data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, "[natterd] store completion");
  g_source_attach (source, context);
  g_source_unref (source);
}

static gboolean complete_batch (gpointer data);

/* A durable batch to the main context: its ops' ready stamp, and counted
 * for natterd_store_completions_ready(). */
static void
complete_batch_on_context (NatterdStorePrivate *priv,
                           Batch               *batch)
{
  gint64 ready = g_get_monotonic_time ();

  for (guint i = 0; i < batch->ops->len; i++)
    ((NatterdOp *) g_ptr_array_index (batch->ops, i))->ready = ready;
  g_atomic_int_inc (&priv->batches_ready);
  complete_on_context (priv->context, complete_batch, batch);
}

static gboolean
complete_batch (gpointer data)
{
  Batch *batch = data;
  NatterdStorePrivate *priv = natterd_store_get_instance_private (batch->store);
  gint64 resumed = g_get_monotonic_time ();

  g_atomic_int_add (&priv->batches_ready, -1);

  for (guint i = 0; i < batch->ops->len; i++)
    {
      NatterdOp *op = g_ptr_array_index (batch->ops, i);

      op->resumed = resumed;
      if (op->complete != NULL)
        op->complete (op, op->user_data);
      natterd_op_free (op);
    }
  /* After the completions: the server writes the acks they queued now. */
  if (priv->observer != NULL)
    priv->observer (batch->ops->len, batch->duration, priv->observer_data);

  g_mutex_lock (&priv->lock);
  priv->in_flight -= batch->ops->len;
  g_mutex_unlock (&priv->lock);

  g_ptr_array_unref (batch->ops);
  g_object_unref (batch->store);
  g_free (batch);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------ space */

#define FULL_RETRY_US G_USEC_PER_SEC

static guint64
free_bytes (NatterdStorePrivate *priv)
{
  struct statvfs info;

  if (priv->space_path == NULL || statvfs (priv->space_path, &info) != 0)
    return G_MAXUINT64;
  /* What an unprivileged writer may use: the blocks kept for root are
   * the system's, not natterd's. */
  return (guint64) info.f_bavail * (guint64) info.f_frsize;
}

/* Ops that only record how far delivery got, or delete, go on when space
 * is short: they are small, and they give space back. */
static gboolean
op_adds_data (NatterdOp *op)
{
  switch (op->kind)
    {
    case NATTERD_OP_DEVICES:
    case NATTERD_OP_PRUNE:
    case NATTERD_OP_WEBHOOK_DONE:
      return FALSE;
    case NATTERD_OP_CHATROOM:
      return !((NatterdChatroomOp *) op)->remove;
    case NATTERD_OP_BARRIER:
    case NATTERD_OP_USER:
    case NATTERD_OP_PUBLISH:
    case NATTERD_OP_RECALL:
    case NATTERD_OP_CONVERSATION:
    case NATTERD_OP_GROUP:
    case NATTERD_OP_MEMBERS:
    case NATTERD_OP_BLACKLIST:
    case NATTERD_OP_MEDIA:
    case NATTERD_OP_NONCE:
    default:
      return TRUE;
    }
}

/* Writer thread: refuse ops that add data now? */
static gboolean
space_refusal (NatterdStore  *self,
               GError       **error)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  guint64 available;

  if (priv->retry_at > g_get_monotonic_time ())
    {
      /* Said as it is: /healthz and the log show this to operators. */
      if (priv->retry_unreachable)
        g_set_error_literal (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE,
                             "The store is unreachable; writes are tried again shortly");
      else
        g_set_error_literal (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FULL,
                             "The disk is full; writes are tried again shortly");
      return TRUE;
    }
  if (priv->min_free == 0)
    return FALSE;
  available = free_bytes (priv);
  if (available >= priv->min_free)
    return FALSE;
  g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FULL,
               "%" G_GUINT64_FORMAT " bytes free, below [store] min-free (%" G_GUINT64_FORMAT ")",
               available, priv->min_free);
  return TRUE;
}

static void
set_full (NatterdStore *self,
          gboolean      full,
          const GError *error)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  char available[24], min_free[24];

  /* Before the early return: space may run out, then the store go away. */
  g_atomic_int_set (&priv->unreachable_flag,
                    full && g_error_matches (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE));
  if (priv->full == full)
    return;
  priv->full = full;
  g_atomic_int_set (&priv->full_flag, full);

  g_snprintf (available, sizeof available, "%" G_GUINT64_FORMAT, free_bytes (priv));
  g_snprintf (min_free, sizeof min_free, "%" G_GUINT64_FORMAT, priv->min_free);
  /* One line when it starts, one when it ends: not one per refused op. */
  if (full && g_error_matches (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE))
    natterd_log (G_LOG_LEVEL_WARNING, "store-unavailable", "reason", error->message, NULL);
  else if (full)
    natterd_log (G_LOG_LEVEL_WARNING, "store-full", "reason", error->message, "free", available,
                 "min-free", min_free, "path", priv->space_path, NULL);
  else
    natterd_log (G_LOG_LEVEL_MESSAGE, "store-writable", "free", available, "min-free", min_free,
                 NULL);
}

/* A user whose first row failed: later ops naming it fail as well (until
 * a create succeeds), so nothing stored ever names a user that is not. */
static void
note_failed (NatterdStorePrivate *priv,
             NatterdOp           *op)
{
  NatterdUserOp *user = (NatterdUserOp *) op;
  NatterdGroupOp *group = (NatterdGroupOp *) op;

  if (op->kind == NATTERD_OP_USER && user->create)
    g_hash_table_add (priv->unstored_users, g_memdup2 (&user->id, sizeof user->id));
  else if (op->kind == NATTERD_OP_GROUP && group->create)
    g_hash_table_add (priv->unstored_groups, g_memdup2 (&group->id, sizeof group->id));
}

static void
note_stored (NatterdStorePrivate *priv,
             NatterdOp           *op)
{
  NatterdUserOp *user = (NatterdUserOp *) op;
  NatterdGroupOp *group = (NatterdGroupOp *) op;

  if (op->kind == NATTERD_OP_USER && user->create && g_hash_table_size (priv->unstored_users) > 0)
    g_hash_table_remove (priv->unstored_users, &user->id);
  else if (op->kind == NATTERD_OP_GROUP && group->create && g_hash_table_size (priv->unstored_groups) > 0)
    g_hash_table_remove (priv->unstored_groups, &group->id);
}

static gboolean
is_unstored (NatterdStorePrivate *priv,
             GHashTable          *created,
             gint64               user_id)
{
  return g_hash_table_contains (priv->unstored_users, &user_id) &&
         (created == NULL || !g_hash_table_contains (created, &user_id));
}

static gboolean ids_name_unstored (NatterdStorePrivate *priv,
                                   GHashTable          *created,
                                   GArray              *ids);

static gboolean
publish_names_unstored (NatterdStorePrivate *priv,
                        GHashTable          *created,
                        NatterdPublishOp    *p)
{
  if (p == NULL)
    return FALSE;
  if (is_unstored (priv, created, p->sender_id))
    return TRUE;
  for (guint i = 0; i < p->recipients->len; i++)
    if (is_unstored (priv, created, g_array_index (p->recipients, NatterdRecipient, i).user_id))
      return TRUE;
  /* A group message's mentions name users too. */
  if (p->mention_ids != NULL && ids_name_unstored (priv, created, p->mention_ids))
    return TRUE;
  return FALSE;
}

static gboolean
ids_name_unstored (NatterdStorePrivate *priv,
                   GHashTable          *created,
                   GArray              *ids)
{
  for (guint i = 0; i < ids->len; i++)
    if (is_unstored (priv, created, g_array_index (ids, gint64, i)))
      return TRUE;
  return FALSE;
}

/* Does @op name a user (or group) whose first row is not stored
 * (@created: user ids whose row goes in the same transaction, ahead of
 * @op)? */
static gboolean
names_unstored (NatterdStorePrivate *priv,
                GHashTable          *created,
                NatterdOp           *op)
{
  if (op->kind == NATTERD_OP_MEMBERS &&
      g_hash_table_contains (priv->unstored_groups, &((NatterdMembersOp *) op)->group_id))
    return TRUE;
  if (g_hash_table_size (priv->unstored_users) == 0)
    return FALSE;

  switch (op->kind)
    {
    case NATTERD_OP_PUBLISH:
      return publish_names_unstored (priv, created, (NatterdPublishOp *) op);
    case NATTERD_OP_RECALL:
      return is_unstored (priv, created, ((NatterdRecallOp *) op)->sender_id) ||
             publish_names_unstored (priv, created, ((NatterdRecallOp *) op)->command);
    case NATTERD_OP_CONVERSATION:
      return is_unstored (priv, created, ((NatterdConversationOp *) op)->user_id);
    case NATTERD_OP_MEMBERS:
      return ids_name_unstored (priv, created, ((NatterdMembersOp *) op)->user_ids);
    case NATTERD_OP_BLACKLIST:
      return is_unstored (priv, created, ((NatterdBlacklistOp *) op)->user_id) ||
             ids_name_unstored (priv, created, ((NatterdBlacklistOp *) op)->blocked_ids);
    case NATTERD_OP_DEVICES:
      {
        GArray *devices = ((NatterdDevicesOp *) op)->devices;

        for (guint i = 0; i < devices->len; i++)
          if (is_unstored (priv, created, g_array_index (devices, NatterdDeviceRecord, i).user_id))
            return TRUE;
        return FALSE;
      }
    case NATTERD_OP_MEDIA:
      return is_unstored (priv, created, ((NatterdMediaOp *) op)->uploader_id);
    case NATTERD_OP_BARRIER:
    case NATTERD_OP_USER:
    case NATTERD_OP_GROUP:
    case NATTERD_OP_CHATROOM:
    case NATTERD_OP_PRUNE:
    case NATTERD_OP_NONCE:
    case NATTERD_OP_WEBHOOK_DONE:
    default:
      return FALSE;
    }
}

static void
refuse_op (NatterdStorePrivate *priv,
           NatterdOp           *op,
           const GError        *error)
{
  g_clear_error (&op->error);
  op->error = g_error_copy (error);
  note_failed (priv, op);
}

/* Writer thread: commits what may be of @ops, sets the error of the rest. */
static void
write_batch (NatterdStore *self,
             GPtrArray    *ops)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  NatterdStoreClass *klass = NATTERD_STORE_GET_CLASS (self);
  g_autoptr(GError) refusal = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) writable = g_ptr_array_sized_new (ops->len);
  g_autoptr(GHashTable) created = NULL;
  gboolean short_of_space = space_refusal (self, &refusal);
  gboolean adds_data = FALSE;
  guint64 refused = 0;

  for (guint i = 0; i < ops->len; i++)
    {
      NatterdOp *op = g_ptr_array_index (ops, i);

      if (short_of_space && op_adds_data (op))
        {
          refuse_op (priv, op, refusal);
          refused++;
          continue;
        }
      if (names_unstored (priv, created, op))
        {
          g_autoptr(GError) unstored = g_error_new_literal (NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FULL,
                                                            "A user or group it names could not be stored (out of space)");

          refuse_op (priv, op, unstored);
          refused++;
          continue;
        }
      if (op->kind == NATTERD_OP_USER && ((NatterdUserOp *) op)->create &&
          g_hash_table_size (priv->unstored_users) > 0)
        {
          if (created == NULL)
            created = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
          g_hash_table_add (created, g_memdup2 (&((NatterdUserOp *) op)->id, sizeof (gint64)));
        }
      adds_data |= op_adds_data (op);
      g_ptr_array_add (writable, op);
    }

  if (short_of_space)
    set_full (self, TRUE, refusal);

  if (writable->len > 0 &&
      !klass->write (self, (NatterdOp **) writable->pdata, writable->len, &error))
    {
      if (natterd_store_error_is_full (error))
        {
          /* Out of space: the ops alone would fail too. */
          priv->retry_at = g_get_monotonic_time () + FULL_RETRY_US;
          priv->retry_unreachable = g_error_matches (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE);
          set_full (self, TRUE, error);
          for (guint i = 0; i < writable->len; i++)
            refuse_op (priv, g_ptr_array_index (writable, i), error);
          refused += writable->len;
        }
      else
        {
          /* One op the database refuses must not take the others down with
           * it: store each alone, and fail only the ones that fail alone. */
          g_warning ("Batch of %u operations failed (%s); retrying one by one",
                     writable->len, error->message);
          for (guint i = 0; i < writable->len; i++)
            {
              NatterdOp *op = g_ptr_array_index (writable, i);

              if (priv->retry_at > g_get_monotonic_time () || names_unstored (priv, NULL, op))
                {
                  g_autoptr(GError) unstored = g_error_new_literal (NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FULL,
                                                                    "Out of space");

                  refuse_op (priv, op, unstored);
                  refused++;
                }
              else if (!klass->write (self, &op, 1, &op->error))
                {
                  note_failed (priv, op);
                  if (natterd_store_error_is_full (op->error))
                    {
                      priv->retry_at = g_get_monotonic_time () + FULL_RETRY_US;
                      priv->retry_unreachable = g_error_matches (op->error, NATTERD_STORE_ERROR,
                                                                 NATTERD_STORE_ERROR_UNAVAILABLE);
                      set_full (self, TRUE, op->error);
                      refused++;
                    }
                }
              else
                {
                  note_stored (priv, op);
                }
            }
        }
    }
  else
    {
      for (guint i = 0; i < writable->len; i++)
        note_stored (priv, g_ptr_array_index (writable, i));
      /* Writes that add data went through: there is room again. */
      if (!short_of_space && adds_data)
        set_full (self, FALSE, NULL);
    }

  if (refused > 0)
    {
      g_mutex_lock (&priv->lock);
      priv->refused += refused;
      g_mutex_unlock (&priv->lock);
    }
}

static gpointer
writer_main (gpointer data)
{
  NatterdStore *self = data;
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  NatterdStoreClass *klass = NATTERD_STORE_GET_CLASS (self);

  natterd_sched_prefer_latency ();
  for (;;)
    {
      Batch *batch;
      gint64 start;

      g_mutex_lock (&priv->lock);
      while ((g_queue_is_empty (&priv->queue) || priv->held > 0) && !priv->stopping)
        {
          priv->writer_waiting = TRUE;
          g_cond_wait (&priv->wake, &priv->lock);
          priv->writer_waiting = FALSE;
        }
      if (g_queue_is_empty (&priv->queue))
        {
          g_mutex_unlock (&priv->lock);
          break;
        }

      batch = g_new0 (Batch, 1);
      batch->store = g_object_ref (self);
      batch->ops = g_ptr_array_sized_new (MIN (g_queue_get_length (&priv->queue), priv->batch_max));
      while (!g_queue_is_empty (&priv->queue) && batch->ops->len < priv->batch_max)
        g_ptr_array_add (batch->ops, g_queue_pop_head (&priv->queue));
      priv->in_flight += batch->ops->len;
      g_mutex_unlock (&priv->lock);

      start = g_get_monotonic_time ();
      priv->batch_sync_us = 0;
      priv->batch_sync_shared = FALSE;
      write_batch (self, batch->ops);
      batch->taken = start;
      batch->duration = g_get_monotonic_time () - start;
      for (guint i = 0; i < batch->ops->len; i++)
        {
          NatterdOp *op = g_ptr_array_index (batch->ops, i);

          op->taken = start;
          op->committed = start + batch->duration;
          op->synced_us = priv->batch_sync_us;
          op->sync_shared = priv->batch_sync_shared;
        }

      if (priv->syncers[0] != NULL)
        {
          /* Not durable yet: a sync thread completes it, while this
           * thread runs the next batch's SQL. */
          g_mutex_lock (&priv->lock);
          g_queue_push_tail (&priv->sync_queue, batch);
          if (priv->syncers_waiting > 0)
            g_cond_signal (&priv->sync_wake);
          g_mutex_unlock (&priv->lock);
        }
      else
        complete_batch_on_context (priv, batch);
      if (klass->maintain != NULL)
        klass->maintain (self);
    }

  natterd_sched_forget_latency ();
  return NULL;
}

/* The sync threads: each sync covers every batch committed before it
 * began, and they complete together, in commit order, as one batch (one
 * wake-up of the main context, one flush of the acks).
 *
 * Two of them (#17): with one, a commit that ended just after a sync
 * began waited for that sync, then for its own (at 2,000 msgs/s, a
 * message every 0.5 ms, about every other one did: up to two syncs'
 * time); now its sync begins at once, beside the other. Rounds still
 * complete in the order they began, a later one waiting for the earlier
 * (deliveries keep their order). When a sync fails, the rounds under way
 * beside it fail with it. Linux reports a writeback error to each open
 * file description once: each sync has a descriptor of its own, so one
 * that returns first cannot miss an error another took (and once one
 * failed, every sync fails until the WAL starts over; see WalSync in
 * natterd-store-sqlite-wal.c). */
static gpointer
syncer_main (gpointer data)
{
  NatterdStore *self = data;
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  NatterdStoreClass *klass = NATTERD_STORE_GET_CLASS (self);

  natterd_sched_prefer_latency ();
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      SyncRound *round, *head;
      Batch *first, *batch;
      gboolean shared = FALSE;
      gboolean ok;
      gint64 done;

      g_mutex_lock (&priv->lock);
      while (g_queue_is_empty (&priv->sync_queue) && !priv->sync_stopping)
        {
          priv->syncers_waiting++;
          g_cond_wait (&priv->sync_wake, &priv->lock);
          priv->syncers_waiting--;
        }
      if (g_queue_is_empty (&priv->sync_queue))
        {
          g_mutex_unlock (&priv->lock);
          break;
        }
      first = g_queue_pop_head (&priv->sync_queue);
      while ((batch = g_queue_pop_head (&priv->sync_queue)) != NULL)
        {
          g_ptr_array_extend_and_steal (first->ops, g_steal_pointer (&batch->ops));
          g_object_unref (batch->store);
          g_free (batch);
        }
      round = g_new0 (SyncRound, 1);
      round->batch = first;
      g_queue_push_tail (&priv->syncing, round);
      g_mutex_unlock (&priv->lock);

      ok = klass->sync (self, &shared, &error);
      done = g_get_monotonic_time ();
      if (!ok)
        natterd_log (G_LOG_LEVEL_WARNING, "store-sync-failed", "error", error->message, NULL);
      for (guint i = 0; i < first->ops->len; i++)
        {
          NatterdOp *op = g_ptr_array_index (first->ops, i);
          gint64 sql_done = op->committed;  /* the writer's stamp: its COMMIT returned */

          /* Not acked as stored: the client sends it again, and its
           * idempotency key finds the row if it did reach the disk. */
          if (!ok && op->error == NULL)
            op->error = g_error_copy (error);
          op->synced_us += done - sql_done;
          op->sync_shared |= shared;
          op->committed = done;
        }
      first->duration = done - first->taken;

      g_mutex_lock (&priv->lock);
      round->done = TRUE;
      if (!ok)
        for (GList *l = priv->syncing.head; l != NULL; l = l->next)
          if (l->data != round && ((SyncRound *) l->data)->failed == NULL)
            ((SyncRound *) l->data)->failed = g_error_copy (error);
      while ((head = g_queue_peek_head (&priv->syncing)) != NULL && head->done)
        {
          g_queue_pop_head (&priv->syncing);
          for (guint i = 0; head->failed != NULL && i < head->batch->ops->len; i++)
            {
              NatterdOp *op = g_ptr_array_index (head->batch->ops, i);

              if (op->error == NULL)
                op->error = g_error_copy (head->failed);
            }
          complete_batch_on_context (priv, head->batch);
          g_clear_error (&head->failed);
          g_free (head);
        }
      g_mutex_unlock (&priv->lock);
    }

  natterd_sched_forget_latency ();
  return NULL;
}

static gboolean
complete_read (gpointer data)
{
  NatterdRead *read = data;

  if (read->complete != NULL)
    read->complete (read, read->user_data);
  natterd_read_free (read);
  return G_SOURCE_REMOVE;
}

static void
reader_main (gpointer data,
             gpointer user_data)
{
  NatterdRead *read = data;
  NatterdStore *self = user_data;
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  NATTERD_STORE_GET_CLASS (self)->read (self, read, &read->error);
  complete_on_context (priv->context, complete_read, read);
}

/* The reader's queue order: offline replay first, then first come, first
 * served. With one reader thread, GThreadPool keeps it exactly. */
static gint
compare_reads (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const NatterdRead *x = a;
  const NatterdRead *y = b;
  gboolean x_replay = x->kind == NATTERD_READ_REPLAY;
  gboolean y_replay = y->kind == NATTERD_READ_REPLAY;

  if (x_replay != y_replay)
    return x_replay ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

static void
natterd_store_finalize (GObject *object)
{
  NatterdStore *self = NATTERD_STORE (object);
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_assert (priv->writer == NULL);
  g_clear_pointer (&priv->context, g_main_context_unref);
  g_clear_pointer (&priv->unstored_users, g_hash_table_unref);
  g_clear_pointer (&priv->unstored_groups, g_hash_table_unref);
  g_free (priv->space_path);
  g_mutex_clear (&priv->lock);
  g_cond_clear (&priv->wake);
  g_cond_clear (&priv->sync_wake);

  G_OBJECT_CLASS (natterd_store_parent_class)->finalize (object);
}

static void
natterd_store_class_init (NatterdStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natterd_store_finalize;
}

static void
natterd_store_init (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_mutex_init (&priv->lock);
  g_cond_init (&priv->wake);
  g_cond_init (&priv->sync_wake);
  g_queue_init (&priv->queue);
  g_queue_init (&priv->sync_queue);
  g_queue_init (&priv->syncing);
  priv->unstored_users = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  priv->unstored_groups = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

void
natterd_store_start (NatterdStore *self,
                     guint         batch_max)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_return_if_fail (NATTERD_IS_STORE (self));
  g_return_if_fail (priv->writer == NULL);

  priv->context = g_main_context_ref_thread_default ();
  priv->batch_max = MAX (batch_max, 1);
  priv->stopping = FALSE;
  priv->sync_stopping = FALSE;
  if (NATTERD_STORE_GET_CLASS (self)->sync != NULL)
    for (guint i = 0; i < N_SYNCERS; i++)
      priv->syncers[i] = g_thread_new ("natterd-sync", syncer_main, self);
  priv->writer = g_thread_new ("natterd-writer", writer_main, self);
  priv->readers = g_thread_pool_new (reader_main, self, 1, TRUE, NULL);
  g_thread_pool_set_sort_function (priv->readers, compare_reads, NULL);
}

void
natterd_store_submit (NatterdStore *self,
                      gpointer      op)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_return_if_fail (NATTERD_IS_STORE (self));
  g_return_if_fail (op != NULL);

  g_mutex_lock (&priv->lock);
  if (priv->writer == NULL || priv->stopping)
    {
      g_mutex_unlock (&priv->lock);
      g_set_error_literal (&((NatterdOp *) op)->error, NATTERD_STORE_ERROR,
                           NATTERD_STORE_ERROR_CLOSED, "The store is closed");
      if (((NatterdOp *) op)->complete != NULL)
        ((NatterdOp *) op)->complete (op, ((NatterdOp *) op)->user_data);
      natterd_op_free (op);
      return;
    }
  ((NatterdOp *) op)->queued = g_get_monotonic_time ();
  g_queue_push_tail (&priv->queue, op);
  /* GLib's g_cond_signal() is a futex syscall even with no one waiting:
   * while the writer commits, the ops queued meanwhile cost none each. */
  if (priv->writer_waiting)
    g_cond_signal (&priv->wake);
  g_mutex_unlock (&priv->lock);
}

void
natterd_store_note_sync (NatterdStore *self,
                         gint64        us,
                         gboolean      shared)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  priv->batch_sync_us += us;
  priv->batch_sync_shared |= shared;
}

void
natterd_store_hold (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_mutex_lock (&priv->lock);
  priv->held++;
  g_mutex_unlock (&priv->lock);
}

void
natterd_store_release (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_mutex_lock (&priv->lock);
  g_assert (priv->held > 0);
  if (--priv->held == 0)
    g_cond_signal (&priv->wake);
  g_mutex_unlock (&priv->lock);
}

void
natterd_store_read (NatterdStore *self,
                    gpointer      data)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  NatterdRead *read = data;

  g_return_if_fail (NATTERD_IS_STORE (self));

  if (priv->readers == NULL)
    {
      g_set_error_literal (&read->error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_CLOSED,
                           "The store is closed");
      complete_read (read);
      return;
    }
  g_mutex_lock (&priv->lock);
  read->order = priv->reads_queued++;
  g_mutex_unlock (&priv->lock);
  g_thread_pool_push (priv->readers, read, NULL);
}

gboolean
natterd_store_completions_ready (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  return g_atomic_int_get (&priv->batches_ready) > 0;
}

guint
natterd_store_get_queue_length (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  guint length;

  g_mutex_lock (&priv->lock);
  length = g_queue_get_length (&priv->queue) + priv->in_flight;
  g_mutex_unlock (&priv->lock);
  return length;
}

void
natterd_store_set_batch_observer (NatterdStore         *self,
                                  NatterdBatchObserver  observer,
                                  gpointer              user_data)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  priv->observer = observer;
  priv->observer_data = user_data;
}

void
natterd_store_set_min_free (NatterdStore *self,
                            const char   *path,
                            guint64       min_free)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_return_if_fail (NATTERD_IS_STORE (self));
  g_return_if_fail (priv->writer == NULL);

  g_free (priv->space_path);
  priv->space_path = g_strdup (path);
  priv->min_free = min_free;
}

guint64
natterd_store_get_refused (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);
  guint64 refused;

  g_mutex_lock (&priv->lock);
  refused = priv->refused;
  g_mutex_unlock (&priv->lock);
  return refused;
}

gboolean
natterd_store_is_full (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  return g_atomic_int_get (&priv->full_flag);
}

gboolean
natterd_store_is_unreachable (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  return g_atomic_int_get (&priv->unreachable_flag);
}

void
natterd_store_stop (NatterdStore *self)
{
  NatterdStorePrivate *priv = natterd_store_get_instance_private (self);

  g_return_if_fail (NATTERD_IS_STORE (self));

  if (priv->writer == NULL)
    return;

  if (priv->readers != NULL)
    {
      /* Lets queued reads finish; their completions are dispatched below. */
      g_thread_pool_free (priv->readers, FALSE, TRUE);
      priv->readers = NULL;
    }

  g_mutex_lock (&priv->lock);
  priv->stopping = TRUE;
  g_cond_broadcast (&priv->wake);
  g_mutex_unlock (&priv->lock);
  g_clear_pointer (&priv->writer, g_thread_join);
  if (priv->syncers[0] != NULL)
    {
      /* They sync what is queued, then end. */
      g_mutex_lock (&priv->lock);
      priv->sync_stopping = TRUE;
      g_cond_broadcast (&priv->sync_wake);
      g_mutex_unlock (&priv->lock);
      for (guint i = 0; i < N_SYNCERS; i++)
        g_clear_pointer (&priv->syncers[i], g_thread_join);
    }

  /* Every batch has been committed; hand out what they completed. */
  for (;;)
    {
      guint in_flight;

      g_mutex_lock (&priv->lock);
      in_flight = priv->in_flight;
      g_mutex_unlock (&priv->lock);
      if (in_flight == 0)
        break;
      g_main_context_iteration (priv->context, TRUE);
    }
  while (g_main_context_pending (priv->context))
    g_main_context_iteration (priv->context, FALSE);
}

gboolean
natterd_store_load (NatterdStore           *self,
                    const NatterdLoadSink  *sink,
                    gpointer                data,
                    GError                **error)
{
  return NATTERD_STORE_GET_CLASS (self)->load (self, sink, data, error);
}

gboolean
natterd_store_create_app (NatterdStore      *self,
                          NatterdAppRecord  *record,
                          GError           **error)
{
  return NATTERD_STORE_GET_CLASS (self)->create_app (self, record, error);
}

gboolean
natterd_store_update_app (NatterdStore  *self,
                          const char    *app_key,
                          const char    *settings,
                          GError       **error)
{
  return NATTERD_STORE_GET_CLASS (self)->update_app (self, app_key, settings, error);
}

GPtrArray *
natterd_store_list_apps (NatterdStore  *self,
                         GError       **error)
{
  return NATTERD_STORE_GET_CLASS (self)->list_apps (self, error);
}

gboolean
natterd_store_rotate_secret (NatterdStore  *self,
                             const char    *app_key,
                             const char    *secret,
                             gint64         old_expires,
                             GError       **error)
{
  return NATTERD_STORE_GET_CLASS (self)->rotate_secret (self, app_key, secret, old_expires, error);
}

gboolean
natterd_store_set_token_key (NatterdStore  *self,
                             const char    *app_key,
                             GBytes        *token_key,
                             GError       **error)
{
  return NATTERD_STORE_GET_CLASS (self)->set_token_key (self, app_key, token_key, error);
}
