/* natter-store-profiles.c — users' and groups' names and portraits
 *
 * Names come from three places: content.user of a message (kept where the
 * server's profile has none yet), natter_store_set_user_async() (the app),
 * and the server's profiles (natter_store_set_profiles_async(), with the
 * time they were fetched, so stale ones are asked again). Private-like
 * conversations take their title from the user, group conversations from
 * the group (a group id may equal a user id: separate tables). The owner
 * keeps every known user's name in memory (loaded when the store opens)
 * so each message handed out carries its sender's name at once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

#include "natter-message-private.h"

NatterProfile *
natter_profile_new (const char *id,
                    const char *name,
                    const char *portrait_uri,
                    guint       member_count)
{
  NatterProfile *profile = g_new0 (NatterProfile, 1);

  profile->id = g_strdup (id);
  profile->name = name != NULL && *name != '\0' ? g_strdup (name) : NULL;
  profile->portrait_uri = portrait_uri != NULL && *portrait_uri != '\0' ? g_strdup (portrait_uri) : NULL;
  profile->member_count = member_count;
  return profile;
}

NatterProfile *
natter_profile_copy (const NatterProfile *profile)
{
  return natter_profile_new (profile->id, profile->name, profile->portrait_uri, profile->member_count);
}

void
natter_profile_free (NatterProfile *profile)
{
  if (profile == NULL)
    return;
  g_free (profile->id);
  g_free (profile->name);
  g_free (profile->portrait_uri);
  g_free (profile);
}

G_DEFINE_BOXED_TYPE (NatterProfile, natter_profile, natter_profile_copy, natter_profile_free)

/* ------------------------------------------------------------- rows */

gboolean
natter_store_remember_sender (NatterStore    *self,
                              NatterMessage  *message,
                              GError        **error)
{
  const char *name = natter_message_get_user_name (message);
  const char *portrait = natter_message_get_user_portrait_uri (message);
  sqlite3_stmt *stmt;

  if (name == NULL && portrait == NULL)
    return TRUE;

  stmt = natter_store_prepare (self, "INSERT INTO users (id, name, portrait_uri) VALUES (?1, ?2, ?3)"
                                     " ON CONFLICT (id) DO UPDATE SET"
                                     " name = COALESCE (excluded.name, name),"
                                     " portrait_uri = COALESCE (excluded.portrait_uri, portrait_uri)",
                               error);
  return stmt != NULL &&
         natter_store_bind_text (self, stmt, 1, natter_message_get_sender_user_id (message), error) &&
         natter_store_bind_text (self, stmt, 2, name, error) &&
         natter_store_bind_text (self, stmt, 3, portrait, error) &&
         natter_store_step_done (self, stmt, error);
}

static void
do_load_profiles (NatterStore    *self,
                  NatterStoreJob *job)
{
  g_autoptr(GPtrArray) profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  sqlite3_stmt *stmt;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  stmt = natter_store_prepare (self, "SELECT id, name, portrait_uri FROM users"
                                     " WHERE name IS NOT NULL OR portrait_uri IS NOT NULL",
                               &job->error);
  if (stmt == NULL)
    return;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (profiles, natter_profile_new (natter_store_column_text (stmt, 0),
                                                   natter_store_column_text (stmt, 1),
                                                   natter_store_column_text (stmt, 2), 0));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      natter_store_sql_failed (self, rc, "load users", &job->error);
      return;
    }
  natter_store_job_emit_users_changed (job, g_steal_pointer (&profiles));
}

void
natter_store_load_profiles (NatterStore *self)
{
  natter_store_job_push (self, natter_store_job_new (self, sizeof (NatterStoreJob),
                                                     natter_store_load_profiles, do_load_profiles,
                                                     NULL, NATTER_STORE_RESULT_BOOLEAN,
                                                     NULL, NULL, NULL));
}

typedef struct
{
  NatterStoreJob  base;
  char           *user_id;
  char           *name;          /* NULL keeps the field */
  char           *portrait_uri;  /* NULL keeps the field */
} SetUserJob;

static void
set_user_job_clear (gpointer data)
{
  SetUserJob *op = data;

  g_free (op->user_id);
  g_free (op->name);
  g_free (op->portrait_uri);
}

static void
do_set_user (NatterStore    *self,
             NatterStoreJob *job)
{
  SetUserJob *op = (SetUserJob *) job;
  sqlite3_stmt *stmt;
  gboolean ok;
  gint64 conversation;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  stmt = natter_store_prepare (self, "INSERT INTO users (id, name, portrait_uri) VALUES (?1, ?2, ?3)"
                                     " ON CONFLICT (id) DO UPDATE SET"
                                     " name = COALESCE (excluded.name, name),"
                                     " portrait_uri = COALESCE (excluded.portrait_uri, portrait_uri)",
                               &job->error);
  ok = stmt != NULL &&
       natter_store_bind_text (self, stmt, 1, op->user_id, &job->error) &&
       natter_store_bind_text (self, stmt, 2, op->name, &job->error) &&
       natter_store_bind_text (self, stmt, 3, op->portrait_uri, &job->error) &&
       natter_store_step_done (self, stmt, &job->error) &&
       natter_store_conversation_id (self, NATTER_CONVERSATION_PRIVATE, op->user_id, FALSE,
                                     &conversation, &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  if (op->name != NULL || op->portrait_uri != NULL)
    {
      /* What the row holds now: a NULL argument kept a field. */
      sqlite3_stmt *row = natter_store_prepare (self, "SELECT name, portrait_uri FROM users WHERE id = ?1",
                                                NULL);
      gboolean has_row = FALSE;

      if (row != NULL && natter_store_bind_text (self, row, 1, op->user_id, NULL) &&
          natter_store_step_row (self, row, &has_row, NULL) && has_row)
        {
          GPtrArray *profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);

          g_ptr_array_add (profiles, natter_profile_new (op->user_id, natter_store_column_text (row, 0),
                                                         natter_store_column_text (row, 1), 0));
          sqlite3_reset (row);
          natter_store_job_emit_users_changed (job, profiles);
        }
    }
  if (conversation != 0)
    natter_store_job_emit_conversation (self, job, NATTER_CONVERSATION_PRIVATE, op->user_id,
                                        &job->error);
}

/* Private-like and system conversations are with a user, 2 and 3 with a
 * group. */
static const int user_conversation_types[] = {
  NATTER_CONVERSATION_PRIVATE, NATTER_CONVERSATION_CUSTOMER_SERVICE, NATTER_CONVERSATION_SYSTEM,
  NATTER_CONVERSATION_APP_PUBLIC_SERVICE, NATTER_CONVERSATION_PUBLIC_SERVICE,
};
static const int group_conversation_types[] = {
  NATTER_CONVERSATION_DISCUSSION, NATTER_CONVERSATION_GROUP,
};

typedef struct
{
  NatterStoreJob  base;
  GPtrArray      *users;         /* NatterProfile */
  GPtrArray      *groups;        /* NatterProfile */
  gint64          fetched;       /* ms */
} SetProfilesJob;

static void
set_profiles_job_clear (gpointer data)
{
  SetProfilesJob *op = data;

  g_clear_pointer (&op->users, g_ptr_array_unref);
  g_clear_pointer (&op->groups, g_ptr_array_unref);
}

static gboolean
store_profile (NatterStore          *self,
               const NatterProfile  *profile,
               gboolean              is_user,
               gint64                fetched,
               GError              **error)
{
  sqlite3_stmt *stmt;

  if (is_user)
    stmt = natter_store_prepare (self, "INSERT INTO users (id, name, portrait_uri, fetched)"
                                       " VALUES (?1, ?2, ?3, ?4)"
                                       " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                                       " portrait_uri = excluded.portrait_uri, fetched = excluded.fetched",
                                 error);
  else
    stmt = natter_store_prepare (self, "INSERT INTO groups (id, name, portrait_uri, fetched, member_count)"
                                       " VALUES (?1, ?2, ?3, ?4, ?5)"
                                       " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                                       " portrait_uri = excluded.portrait_uri, fetched = excluded.fetched,"
                                       " member_count = excluded.member_count",
                                 error);
  return stmt != NULL &&
         natter_store_bind_text (self, stmt, 1, profile->id, error) &&
         natter_store_bind_text (self, stmt, 2, profile->name, error) &&
         natter_store_bind_text (self, stmt, 3, profile->portrait_uri, error) &&
         natter_store_bind_int (self, stmt, 4, fetched, error) &&
         (is_user || natter_store_bind_int (self, stmt, 5, profile->member_count, error)) &&
         natter_store_step_done (self, stmt, error);
}

/* Every conversation a profile names follows. */
static gboolean
emit_profile_conversations (NatterStore     *self,
                            NatterStoreJob  *job,
                            GPtrArray       *profiles,
                            const int       *types,
                            guint            n_types)
{
  for (guint i = 0; i < profiles->len; i++)
    {
      NatterProfile *profile = g_ptr_array_index (profiles, i);

      for (guint t = 0; t < n_types; t++)
        {
          gint64 conversation = 0;

          if (!natter_store_conversation_id (self, types[t], profile->id, FALSE, &conversation,
                                             &job->error))
            return FALSE;
          if (conversation != 0 &&
              !natter_store_job_emit_conversation (self, job, types[t], profile->id, &job->error))
            return FALSE;
        }
    }
  return TRUE;
}

static void
do_set_profiles (NatterStore    *self,
                 NatterStoreJob *job)
{
  SetProfilesJob *op = (SetProfilesJob *) job;
  gboolean ok = TRUE;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  for (guint i = 0; ok && i < op->users->len; i++)
    ok = store_profile (self, g_ptr_array_index (op->users, i), TRUE, op->fetched, &job->error);
  for (guint i = 0; ok && i < op->groups->len; i++)
    ok = store_profile (self, g_ptr_array_index (op->groups, i), FALSE, op->fetched, &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  /* Names first, so the conversations that follow carry them. */
  if (op->users->len > 0)
    {
      GPtrArray *profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);

      for (guint i = 0; i < op->users->len; i++)
        g_ptr_array_add (profiles, natter_profile_copy (g_ptr_array_index (op->users, i)));
      natter_store_job_emit_users_changed (job, profiles);
    }

  if (emit_profile_conversations (self, job, op->users, user_conversation_types,
                                  G_N_ELEMENTS (user_conversation_types)))
    emit_profile_conversations (self, job, op->groups, group_conversation_types,
                                G_N_ELEMENTS (group_conversation_types));
}

typedef struct
{
  NatterStoreJob base;
  gint64         fetched_before;  /* ms */
  guint          limit;
} StaleProfilesJob;

/* The targets of the newest conversations whose profile was not fetched
 * since fetched_before, each prefixed "u" (a user) or "g" (a group). */
static void
do_get_stale_profiles (NatterStore    *self,
                       NatterStoreJob *job)
{
  StaleProfilesJob *op = (StaleProfilesJob *) job;
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *stmt;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  job->result = ids;
  stmt = natter_store_prepare (self,
                               "SELECT c.type, c.target_id FROM conversations c"
                               " LEFT JOIN users u ON c.type IN (1, 5, 6, 7, 8) AND u.id = c.target_id"
                               " LEFT JOIN groups g ON c.type IN (2, 3) AND g.id = c.target_id"
                               " WHERE c.type IN (1, 2, 3, 5, 6, 7, 8) AND c.hidden = 0"
                               " AND COALESCE (u.fetched, g.fetched, 0) < ?1"
                               " ORDER BY c.updated_time DESC LIMIT ?2",
                               &job->error);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, op->fetched_before, &job->error) ||
      !natter_store_bind_int (self, stmt, 2, op->limit, &job->error))
    return;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      int type = sqlite3_column_int (stmt, 0);
      gboolean group = type == NATTER_CONVERSATION_GROUP || type == NATTER_CONVERSATION_DISCUSSION;

      g_ptr_array_add (ids, g_strconcat (group ? "g" : "u", natter_store_column_text (stmt, 1), NULL));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    natter_store_sql_failed (self, rc, "stale profiles", &job->error);
}

/* --------------------------------------------------------- public calls */

void
natter_store_set_user_async (NatterStore         *self,
                             const char          *user_id,
                             const char          *name,
                             const char          *portrait_uri,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  SetUserJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (user_id != NULL);

  op = natter_store_job_new (self, sizeof *op, natter_store_set_user_async, do_set_user,
                             set_user_job_clear, NATTER_STORE_RESULT_BOOLEAN,
                             cancellable, callback, user_data);
  op->user_id = g_strdup (user_id);
  op->name = g_strdup (name);
  op->portrait_uri = g_strdup (portrait_uri);
  natter_store_job_push (self, op);
}

gboolean
natter_store_set_user_finish (NatterStore   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_set_user_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static GPtrArray *
copy_profiles (GPtrArray *profiles)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);

  for (guint i = 0; profiles != NULL && i < profiles->len; i++)
    g_ptr_array_add (copy, natter_profile_copy (g_ptr_array_index (profiles, i)));
  return copy;
}

void
natter_store_set_profiles_async (NatterStore         *self,
                                 GPtrArray           *users,
                                 GPtrArray           *groups,
                                 gint64               fetched,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  SetProfilesJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));

  op = natter_store_job_new (self, sizeof *op, natter_store_set_profiles_async, do_set_profiles,
                             set_profiles_job_clear, NATTER_STORE_RESULT_BOOLEAN,
                             cancellable, callback, user_data);
  op->users = copy_profiles (users);
  op->groups = copy_profiles (groups);
  op->fetched = fetched;
  natter_store_job_push (self, op);
}

gboolean
natter_store_set_profiles_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_set_profiles_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_get_stale_profiles_async (NatterStore         *self,
                                       gint64               fetched_before,
                                       guint                limit,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  StaleProfilesJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));

  op = natter_store_job_new (self, sizeof *op, natter_store_get_stale_profiles_async,
                             do_get_stale_profiles, NULL, NATTER_STORE_RESULT_STRINGS,
                             cancellable, callback, user_data);
  op->fetched_before = fetched_before;
  op->limit = limit;
  natter_store_job_push (self, op);
}

gboolean
natter_store_get_stale_profiles_finish (NatterStore   *self,
                                        GAsyncResult  *result,
                                        GStrv         *user_ids,
                                        GStrv         *group_ids,
                                        GError       **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GStrvBuilder) users = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) groups = g_strv_builder_new ();

  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_stale_profiles_async, FALSE);

  ids = g_task_propagate_pointer (G_TASK (result), error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);

      g_strv_builder_add (id[0] == 'g' ? groups : users, id + 1);
    }
  *user_ids = g_strv_builder_end (users);
  *group_ids = g_strv_builder_end (groups);
  return TRUE;
}
