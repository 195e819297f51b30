/* natter-test-pg.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-pg.h"
#include "natter-test-server.h"

#include <glib/gstdio.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PG_BIN "/usr/lib/postgresql/15/bin/"

struct _NatterTestPg
{
  char        *dir;
  char        *data;
  guint16      port;
  GSubprocess *postgres;
};

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* argv run as nobody when we are root (setpriv execs in place, so
 * postgres is our child and gets SIGKILL when we die). */
static GPtrArray *
unprivileged_argv (void)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  if (geteuid () == 0)
    {
      struct passwd *nobody = getpwnam ("nobody");

      g_assert_nonnull (nobody);
      g_ptr_array_add (argv, g_strdup ("setpriv"));
      g_ptr_array_add (argv, g_strdup_printf ("--reuid=%u", (guint) nobody->pw_uid));
      g_ptr_array_add (argv, g_strdup_printf ("--regid=%u", (guint) nobody->pw_gid));
      g_ptr_array_add (argv, g_strdup ("--clear-groups"));
      g_ptr_array_add (argv, g_strdup ("--pdeathsig=KILL"));
      g_ptr_array_add (argv, g_strdup ("--"));
    }
  return argv;
}

static GSubprocess *
spawn (GPtrArray        *argv,
       GSubprocessFlags  flags,
       const char       *cwd)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static gboolean
is_ready (NatterTestPg *self)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) process = NULL;

  g_ptr_array_add (argv, g_strdup (PG_BIN "pg_isready"));
  g_ptr_array_add (argv, g_strdup ("-q"));
  g_ptr_array_add (argv, g_strdup ("-h"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", self->port));
  process = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  g_subprocess_wait (process, NULL, NULL);
  return g_subprocess_get_successful (process);
}

static void
start_postgres (NatterTestPg *self)
{
  g_autoptr(GPtrArray) argv = unprivileged_argv ();
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_assert_null (self->postgres);
  g_ptr_array_add (argv, g_strdup (PG_BIN "postgres"));
  g_ptr_array_add (argv, g_strdup ("-D"));
  g_ptr_array_add (argv, g_strdup (self->data));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", self->port));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup ("listen_addresses=127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup_printf ("unix_socket_directories=%s", self->dir));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup ("fsync=on"));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup ("max_connections=100"));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup ("shared_buffers=64MB"));
  self->postgres = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);

  while (!is_ready (self))
    {
      if (g_subprocess_get_identifier (self->postgres) == NULL || g_get_monotonic_time () > deadline)
        g_error ("postgres did not start on port %u", self->port);
      g_usleep (50 * 1000);
    }
}

NatterTestPg *
natter_test_pg_start (void)
{
  NatterTestPg *self = g_new0 (NatterTestPg, 1);
  g_autoptr(GPtrArray) argv = unprivileged_argv ();
  g_autoptr(GSubprocess) initdb = NULL;
  g_autoptr(GError) error = NULL;

  self->dir = g_dir_make_tmp ("natter-test-pg-XXXXXX", &error);
  g_assert_no_error (error);
  self->data = g_build_filename (self->dir, "data", NULL);
  if (geteuid () == 0)
    {
      struct passwd *nobody = getpwnam ("nobody");

      g_assert_cmpint (chown (self->dir, nobody->pw_uid, nobody->pw_gid), ==, 0);
    }

  g_ptr_array_add (argv, g_strdup (PG_BIN "initdb"));
  g_ptr_array_add (argv, g_strdup ("-D"));
  g_ptr_array_add (argv, g_strdup (self->data));
  g_ptr_array_add (argv, g_strdup ("-U"));
  g_ptr_array_add (argv, g_strdup ("natter"));
  g_ptr_array_add (argv, g_strdup ("--auth=trust"));
  g_ptr_array_add (argv, g_strdup ("-E"));
  g_ptr_array_add (argv, g_strdup ("UTF8"));
  g_ptr_array_add (argv, g_strdup ("--locale=C"));
  /* initdb's own files are not synced (a test's cluster); the server
   * runs with fsync on. */
  g_ptr_array_add (argv, g_strdup ("--no-sync"));
  initdb = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, self->dir);
  g_subprocess_wait_check (initdb, NULL, &error);
  g_assert_no_error (error);

  self->port = free_port ();
  start_postgres (self);
  return self;
}

guint16
natter_test_pg_get_port (NatterTestPg *self)
{
  return self->port;
}

char *
natter_test_pg_conninfo (NatterTestPg *self,
                         const char   *name)
{
  return g_strdup_printf ("host=127.0.0.1 port=%u dbname=%s user=natter", self->port, name);
}

char *
natter_test_pg_query (NatterTestPg *self,
                      const char   *name,
                      const char   *sql)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) psql = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_ptr_array_add (argv, g_strdup (PG_BIN "psql"));
  g_ptr_array_add (argv, g_strdup ("-X"));
  g_ptr_array_add (argv, g_strdup ("-q"));
  g_ptr_array_add (argv, g_strdup ("-At"));
  g_ptr_array_add (argv, g_strdup ("-v"));
  g_ptr_array_add (argv, g_strdup ("ON_ERROR_STOP=1"));
  g_ptr_array_add (argv, g_strdup ("-d"));
  g_ptr_array_add (argv, natter_test_pg_conninfo (self, name));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup (sql));
  psql = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL);
  g_subprocess_communicate_utf8 (psql, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (psql))
    g_error ("psql %s: %s", sql, err);
  g_strchomp (out);
  return g_steal_pointer (&out);
}

char *
natter_test_pg_create_database (NatterTestPg *self,
                                const char   *name)
{
  g_autofree char *sql = g_strdup_printf ("CREATE DATABASE \"%s\"", name);
  g_autofree char *out = natter_test_pg_query (self, "postgres", sql);

  return natter_test_pg_conninfo (self, name);
}

void
natter_test_pg_stop (NatterTestPg *self)
{
  g_autoptr(GError) error = NULL;

  if (self->postgres == NULL)
    return;
  /* SIGINT: fast shutdown, clients are disconnected. */
  g_subprocess_send_signal (self->postgres, SIGINT);
  g_subprocess_wait (self->postgres, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&self->postgres);
}

void
natter_test_pg_restart (NatterTestPg *self)
{
  start_postgres (self);
}

void
natter_test_pg_free (NatterTestPg *self)
{
  if (self == NULL)
    return;
  natter_test_pg_stop (self);
  natter_test_remove_tree (self->dir);
  g_free (self->data);
  g_free (self->dir);
  g_free (self);
}
