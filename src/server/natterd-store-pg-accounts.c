/* natterd-store-pg-accounts.c — the account_rows table on PostgreSQL:
 * NATTERD_OP_ACCOUNT in the writer's batch transaction, and
 * NATTERD_READ_ACCOUNT_ROWS. The first row's condition (only new, must
 * exist) is decided by the row count of its own statement, so two nodes
 * cannot both take one user id or one invite code. account_logins
 * (NATTERD_OP_LOGIN, NATTERD_READ_LOGIN) counts wrong passwords for every
 * node at once: the upsert holds the row until its transaction commits,
 * so two nodes counting at once count two. NATTERD_READ_USER_GROUPS reads
 * a user's groups by the index on group_members (user_id, group_id).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"

#include <stdlib.h>

/* What a read-back after a NATS outage reads again (schema 9), in the
 * change's own transaction. */
static gboolean
record_account_change (PGconn                   *conn,
                       const NatterdAccountRow  *row,
                       GError                  **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, row->app_id);
  natterd_pg_params_text (&params, row->kind);
  natterd_pg_params_text (&params, row->owner);
  natterd_pg_params_text (&params, row->name);
  natterd_pg_params_int (&params, g_get_real_time () / 1000);
  result = natterd_pg_query (conn, "INSERT INTO account_changes (app_id, kind, owner, name, at)"
                             " VALUES ($1, $2, $3, $4, $5)", &params, error);
  if (result == NULL)
    return FALSE;
  PQclear (result);
  return TRUE;
}

gboolean
natterd_store_pg_write_account (PGconn            *conn,
                                NatterdAccountOp  *op,
                                GError           **error)
{
  op->conflict = FALSE;
  for (guint i = 0; i < op->rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (op->rows, i);
      PgParams params = { 0 };
      PGresult *result;
      const char *sql;

      natterd_pg_params_int (&params, row->app_id);
      natterd_pg_params_text (&params, row->kind);
      natterd_pg_params_text (&params, row->owner);
      natterd_pg_params_text (&params, row->name);
      if (row->value != NULL && !(i == 0 && row->only_new) && g_str_equal (row->kind, "account"))
        {
          /* The settings it changes over the stored row, whatever node
           * wrote that, and the row's version one up: every node keeps
           * the row of the highest version it heard of (natterd-accounts.c). */
          natterd_pg_params_text (&params, row->value);
          natterd_pg_params_text (&params, row->patch != NULL ? row->patch : row->value);
          result = natterd_pg_query (conn,
                                     "INSERT INTO account_rows (app_id, kind, owner, name, value)"
                                     " VALUES ($1, $2, $3, $4, jsonb_set ($5::jsonb, '{v}', '1')::text)"
                                     " ON CONFLICT (app_id, kind, owner, name) DO UPDATE SET value ="
                                     " jsonb_set (account_rows.value::jsonb || $6::jsonb, '{v}',"
                                     "  to_jsonb (COALESCE ((account_rows.value::jsonb ->> 'v')::bigint, 0) + 1))::text"
                                     " RETURNING value", &params, error);
          if (result == NULL)
            return FALSE;
          if (PQntuples (result) == 1)
            {
              g_free (row->value);
              row->value = natterd_pg_text (result, 0, 0);
            }
          PQclear (result);
          if (!record_account_change (conn, row, error))
            return FALSE;
          continue;
        }
      if (row->value != NULL)
        {
          natterd_pg_params_text (&params, row->value);
          sql = i == 0 && row->only_new ?
                "INSERT INTO account_rows (app_id, kind, owner, name, value) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT DO NOTHING" :
                "INSERT INTO account_rows (app_id, kind, owner, name, value) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (app_id, kind, owner, name) DO UPDATE SET value = EXCLUDED.value";
        }
      else
        sql = "DELETE FROM account_rows WHERE app_id = $1 AND kind = $2 AND owner = $3 AND name = $4";

      result = natterd_pg_query (conn, sql, &params, error);
      if (result == NULL)
        return FALSE;
      if (i == 0 && (row->only_new || row->must_exist) && atoi (PQcmdTuples (result)) == 0)
        {
          PQclear (result);
          op->conflict = TRUE;
          return TRUE;
        }
      PQclear (result);
      if (!record_account_change (conn, row, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
natterd_store_pg_read_account_rows (PGconn                  *conn,
                                    NatterdAccountRowsRead  *read,
                                    GError                 **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->kind);
  natterd_pg_params_text (&params, read->owner);
  if (read->since == NULL)
    result = natterd_pg_query (conn, "SELECT app_id, kind, owner, name, value FROM account_rows"
                               " WHERE ($1::bigint = 0 OR app_id = $1) AND ($2::text IS NULL OR kind = $2)"
                               " AND ($3::text IS NULL OR owner = $3)", &params, error);
  else
    {
      /* The keys changed (see natterd_store_pg_load_changed_rows() for
       * why by transaction id), with their rows if they still have one. */
      natterd_pg_params_text (&params, read->since);
      result = natterd_pg_query (conn, "SELECT c.app_id, c.kind, c.owner, c.name, r.value FROM"
                                 " (SELECT DISTINCT app_id, kind, owner, name FROM account_changes"
                                 "  WHERE txid >= $4::xid8 AND ($1::bigint = 0 OR app_id = $1)"
                                 "  AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR owner = $3)) c"
                                 " LEFT JOIN account_rows r ON r.app_id = c.app_id AND r.kind = c.kind"
                                 " AND r.owner = c.owner AND r.name = c.name", &params, error);
    }
  if (result == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (result); i++)
    {
      NatterdAccountRow *row = g_new0 (NatterdAccountRow, 1);

      row->app_id = natterd_pg_int (result, i, 0);
      row->kind = natterd_pg_text (result, i, 1);
      row->owner = natterd_pg_text (result, i, 2);
      row->name = natterd_pg_text (result, i, 3);
      row->value = natterd_pg_text (result, i, 4);
      g_ptr_array_add (row->value != NULL ? read->rows : read->deleted, row);
    }
  PQclear (result);
  return TRUE;
}

/* Rows of client addresses whose window ended, deleted per count at most:
 * the table holds the addresses of the last login-lockout period. */
#define ADDRESSES_PRUNED 16

static gboolean
write_login_address (PGconn          *conn,
                     NatterdLoginOp  *op,
                     GError         **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_text (&params, op->address);
  natterd_pg_params_int (&params, op->now);
  natterd_pg_params_int (&params, op->address_window);
  natterd_pg_params_int (&params, ADDRESSES_PRUNED);
  /* A window that ended starts a new one at 1. */
  result = natterd_pg_query (conn,
                             "WITH gone AS (DELETE FROM login_addresses WHERE address IN"
                             "  (SELECT address FROM login_addresses WHERE window_end < $2::bigint"
                             "   AND address <> $1 LIMIT $4))"
                             " INSERT INTO login_addresses (address, failures, window_end)"
                             " VALUES ($1, 1, $2::bigint + $3::bigint) ON CONFLICT (address) DO UPDATE SET"
                             " failures = CASE WHEN login_addresses.window_end <= $2::bigint THEN 1"
                             "  ELSE login_addresses.failures + 1 END,"
                             " window_end = CASE WHEN login_addresses.window_end <= $2::bigint"
                             "  THEN $2::bigint + $3::bigint ELSE login_addresses.window_end END",
                             &params, error);
  if (result == NULL)
    return FALSE;
  PQclear (result);
  return TRUE;
}

gboolean
natterd_store_pg_write_login (PGconn          *conn,
                              NatterdLoginOp  *op,
                              GError         **error)
{
  PgParams params = { 0 };
  PGresult *result;

  if (op->address != NULL && op->failed && !write_login_address (conn, op, error))
    return FALSE;
  op->failures = 0;
  op->locked_until = 0;
  if (op->user_id == NULL)
    return TRUE;

  natterd_pg_params_int (&params, op->app_id);
  natterd_pg_params_text (&params, op->user_id);
  if (op->failed)
    {
      natterd_pg_params_int (&params, MAX (1u, op->attempts));
      natterd_pg_params_int (&params, op->now);
      natterd_pg_params_int (&params, op->lockout);
    }
  /* A lock that lapsed starts a new run at 1; SET reads the row as it was. */
  result = natterd_pg_query (conn, op->failed ?
                             "INSERT INTO account_logins (app_id, user_id, failures, locked_until)"
                             " VALUES ($1, $2, 1, CASE WHEN $3::bigint <= 1 THEN $4::bigint + $5::bigint ELSE 0 END)"
                             " ON CONFLICT (app_id, user_id) DO UPDATE SET"
                             " failures = CASE WHEN account_logins.locked_until <> 0"
                             "  AND account_logins.locked_until <= $4::bigint"
                             "  THEN 1 ELSE account_logins.failures + 1 END,"
                             " locked_until = CASE"
                             "  WHEN (CASE WHEN account_logins.locked_until <> 0"
                             "   AND account_logins.locked_until <= $4::bigint"
                             "   THEN 1 ELSE account_logins.failures + 1 END) >= $3::bigint"
                             "   THEN $4::bigint + $5::bigint"
                             "  WHEN account_logins.locked_until <= $4::bigint THEN 0"
                             "  ELSE account_logins.locked_until END"
                             " RETURNING failures, locked_until" :
                             "DELETE FROM account_logins WHERE app_id = $1 AND user_id = $2",
                             &params, error);
  if (result == NULL)
    return FALSE;
  op->failures = 0;
  op->locked_until = 0;
  if (op->failed && PQntuples (result) == 1)
    {
      op->failures = (guint) natterd_pg_int (result, 0, 0);
      op->locked_until = natterd_pg_int (result, 0, 1);
    }
  PQclear (result);
  return TRUE;
}

/* One password check of an account at a time across the nodes (#14): a
 * session advisory lock of the reader's connection, in a class of its own
 * (the migration lock is a bigint one), keyed by a hash of the app and
 * user id (two accounts that share one wait for each other, rarely). */
#define PASSWORD_CHECK_LOCK "742569"
#define PASSWORD_CHECK_KEY  "hashtext ($2::text || ':' || $1::bigint)"

gboolean
natterd_store_pg_read_login (PGconn            *conn,
                             NatterdLoginRead  *read,
                             GError           **error)
{
  PgParams params = { 0 };
  PGresult *result;

  if (read->address != NULL && !read->release)
    {
      PgParams address = { 0 };

      natterd_pg_params_text (&address, read->address);
      result = natterd_pg_query (conn, "SELECT failures, window_end FROM login_addresses WHERE address = $1",
                                 &address, error);
      if (result == NULL)
        return FALSE;
      if (PQntuples (result) == 1)
        {
          read->address_failures = (guint) natterd_pg_int (result, 0, 0);
          read->address_window_end = natterd_pg_int (result, 0, 1);
        }
      PQclear (result);
    }
  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->user_id);
  if (read->release)
    {
      result = natterd_pg_query (conn, "SELECT pg_advisory_unlock (" PASSWORD_CHECK_LOCK ", " PASSWORD_CHECK_KEY ")",
                                 &params, error);
      if (result == NULL)
        return FALSE;
      PQclear (result);
      return TRUE;
    }
  /* The lock is taken last: the row is read whether or not it is had. */
  result = natterd_pg_query (conn, "SELECT (SELECT value FROM account_rows WHERE app_id = $1 AND kind = 'password'"
                             "  AND owner = $2 AND name = ''),"
                             " COALESCE ((SELECT failures FROM account_logins WHERE app_id = $1 AND user_id = $2), 0),"
                             " COALESCE ((SELECT locked_until FROM account_logins WHERE app_id = $1 AND user_id = $2), 0),"
                             " CASE WHEN pg_try_advisory_lock (" PASSWORD_CHECK_LOCK ", " PASSWORD_CHECK_KEY ")"
                             "  THEN 1 ELSE 0 END",
                             &params, error);
  if (result == NULL)
    return FALSE;
  read->hash = natterd_pg_value (result, 0, 0) != NULL ? natterd_pg_text (result, 0, 0) : NULL;
  read->failures = (guint) natterd_pg_int (result, 0, 1);
  read->locked_until = natterd_pg_int (result, 0, 2);
  read->claimed = natterd_pg_int (result, 0, 3) == 1;
  read->busy = !read->claimed;
  PQclear (result);
  return TRUE;
}

static gboolean
read_ids (PGconn      *conn,
          const char  *sql,
          gint64       user_id,
          GArray      *out,
          GError     **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, user_id);
  result = natterd_pg_query (conn, sql, &params, error);
  if (result == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (result); i++)
    {
      gint64 id = natterd_pg_int (result, i, 0);

      g_array_append_val (out, id);
    }
  PQclear (result);
  return TRUE;
}

gboolean
natterd_store_pg_read_user_groups (PGconn                 *conn,
                                   NatterdUserGroupsRead  *read,
                                   GError                **error)
{
  if (!read_ids (conn, "SELECT group_id FROM group_members WHERE user_id = $1", read->user_id,
                 read->group_ids, error))
    return FALSE;
  return !read->with_members ||
         read_ids (conn, "SELECT DISTINCT o.user_id FROM group_members m"
                   " JOIN group_members o ON o.group_id = m.group_id WHERE m.user_id = $1",
                   read->user_id, read->member_ids, error);
}

/* A user another node made, read when a valid token for it arrives here
 * before NATS told this node of it; with its "account" row (password
 * epoch, revocations, privacy) and its groups (joined elsewhere while
 * NATS was down: its messages to them are taken at once); the caller
 * makes it one snapshot. */
gboolean
natterd_store_pg_read_user (PGconn           *conn,
                            NatterdUserRead  *read,
                            GError          **error)
{
  NatterdAccountRowsRead rows = {
    .app_id = read->app_id, .kind = (char *) "account", .owner = read->user_id, .rows = read->rows,
  };
  PgParams params = { 0 };
  PGresult *result;
  gboolean ok;

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->user_id);
  result = natterd_pg_query (conn, "SELECT id, app_id, user_id, name, portrait_uri, created, tokens_valid_after,"
                             " blocked_until, max_seq, (SELECT max (last_seen) FROM devices d"
                             " WHERE d.user_id = users.id) FROM users WHERE app_id = $1 AND user_id = $2",
                             &params, error);
  ok = result != NULL;
  if (ok && PQntuples (result) == 1)
    {
      read->found = TRUE;
      read->user.id = natterd_pg_int (result, 0, 0);
      read->user.app_id = natterd_pg_int (result, 0, 1);
      read->user.user_id = natterd_pg_text (result, 0, 2);
      read->user.name = natterd_pg_text (result, 0, 3);
      read->user.portrait_uri = natterd_pg_text (result, 0, 4);
      read->user.created = natterd_pg_int (result, 0, 5);
      read->user.tokens_valid_after = natterd_pg_int (result, 0, 6);
      read->user.blocked_until = natterd_pg_int (result, 0, 7);
      read->user.max_seq = (guint64) natterd_pg_int (result, 0, 8);
      read->user.last_seen = natterd_pg_int (result, 0, 9);
    }
  g_clear_pointer (&result, PQclear);
  return ok && (!read->found ||
                (natterd_store_pg_read_account_rows (conn, &rows, error) &&
                 natterd_store_pg_load_user_groups (conn, natterd_load_log_sink (), read->groups, read->user.id,
                                                    error)));
}

gboolean
natterd_store_pg_read_members (PGconn              *conn,
                               NatterdMembersRead  *read,
                               GError             **error)
{
  g_autofree char *ids = natterd_pg_int_array (read->user_ids);
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->group_id);
  natterd_pg_params_text (&params, ids);
  /* The group's row with its members' (none: dismissed, or a member-less
   * row of a user not in it). */
  result = natterd_pg_query (conn, "SELECT m.user_id, m.joined, m.gag_until FROM groups g"
                             " LEFT JOIN group_members m ON m.group_id = g.id AND m.user_id = ANY ($3::bigint[])"
                             " WHERE g.app_id = $1 AND g.group_id = $2", &params, error);
  if (result == NULL)
    return FALSE;
  read->group_found = PQntuples (result) > 0;
  for (int i = 0; i < PQntuples (result); i++)
    {
      NatterdMemberRow row;

      if (natterd_pg_value (result, i, 0) == NULL)
        continue;
      row.user_id = natterd_pg_int (result, i, 0);
      row.joined = natterd_pg_int (result, i, 1);
      row.gag_until = natterd_pg_int (result, i, 2);
      g_array_append_val (read->members, row);
    }
  PQclear (result);
  return TRUE;
}
