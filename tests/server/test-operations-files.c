/* test-operations-files.c — what an operator installs: the systemd unit
 * (its required keys; `systemd-analyze verify` when there is one), the
 * sample natterd.conf (natterd's own loader reads it, with every key
 * natterd knows uncommented), and where `meson install` puts them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "natterd-config.h"

static const char *
env (const char *name)
{
  const char *value = g_getenv (name);

  if (value == NULL)
    g_error ("$%s is not set (tests/server/meson.build sets it)", name);
  return value;
}

static GKeyFile *
load_unit (const char *path)
{
  GKeyFile *unit = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  /* A unit file is close enough to a key file; a repeated key (like
   * SystemCallFilter=) keeps its last value here. */
  g_key_file_load_from_file (unit, path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  return unit;
}

static void
assert_unit_key (GKeyFile   *unit,
                 const char *group,
                 const char *key,
                 const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = g_key_file_get_value (unit, group, key, &error);

  if (value == NULL)
    g_error ("the unit has no [%s] %s=: %s", group, key, error->message);
  if (expected != NULL)
    g_assert_cmpstr (value, ==, expected);
}

static void
test_unit_keys (void)
{
  g_autoptr(GKeyFile) unit = load_unit (env ("NATTERD_UNIT"));
  g_autofree char *exec_start = NULL;
  static const char *required[][2] = {
    { "Type", "notify" },
    { "NotifyAccess", "main" },
    { "WatchdogSec", NULL },
    { "DynamicUser", "yes" },
    { "StateDirectory", "natterd" },
    { "ConfigurationDirectory", "natterd" },
    { "ExecReload", "/bin/kill -HUP $MAINPID" },
    { "LimitNOFILE", NULL },
    { "ProtectSystem", "strict" },
    { "ProtectHome", "yes" },
    { "PrivateTmp", "yes" },
    { "PrivateDevices", "yes" },
    { "NoNewPrivileges", "yes" },
    { "ProtectKernelTunables", "yes" },
    { "ProtectKernelModules", "yes" },
    { "ProtectKernelLogs", "yes" },
    { "ProtectControlGroups", "yes" },
    { "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6" },
    { "RestrictNamespaces", "yes" },
    { "LockPersonality", "yes" },
    { "MemoryDenyWriteExecute", "yes" },
    { "RestrictRealtime", "yes" },
    { "SystemCallArchitectures", "native" },
    { "CapabilityBoundingSet", "" },
    { "UMask", "0077" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    assert_unit_key (unit, "Service", required[i][0], required[i][1]);
  assert_unit_key (unit, "Install", "WantedBy", "multi-user.target");

  /* The installed natterd, the standard places. */
  exec_start = g_key_file_get_value (unit, "Service", "ExecStart", NULL);
  g_assert_nonnull (exec_start);
  g_assert_true (g_path_is_absolute (exec_start));
  g_assert_true (g_str_has_suffix (exec_start, "/natterd --config /etc/natterd/natterd.conf --data-dir /var/lib/natterd"));

  /* Both SystemCallFilter= lines: the allow list first. */
  {
    g_autofree char *text = NULL;

    g_assert_true (g_file_get_contents (env ("NATTERD_UNIT"), &text, NULL, NULL));
    g_assert_nonnull (strstr (text, "\nSystemCallFilter=@system-service\n"));
  }
}

/* systemd's own reading of the unit: any complaint fails. */
static void
test_unit_verify (void)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              env ("SYSTEMD_ANALYZE"), "verify", "--man=no",
                              env ("NATTERD_UNIT_BUILD"), NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("systemd-analyze verify: %s%s", out, err);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, ==, "");
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

static gboolean
is_commented_key (const char *line)
{
  const char *at = line + 1;

  if (line[0] != '#' || !g_ascii_islower (*at))
    return FALSE;
  while (g_ascii_islower (*at) || *at == '-')
    at++;
  return *at == '=';
}

static void
test_sample_config (void)
{
  const char *path = env ("NATTERD_SAMPLE_CONF");
  g_autoptr(NatterdConfig) as_is = natterd_config_new ();
  g_autoptr(NatterdConfig) uncommented = natterd_config_new ();
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) all = g_string_new (NULL);
  g_autofree char *text = NULL;
  g_autofree char *dir = g_dir_make_tmp ("natterd-sample-XXXXXX", NULL);
  g_autofree char *all_path = g_build_filename (dir, "natterd.conf", NULL);
  g_auto(GStrv) lines = NULL;
  const char *group, *key;
  guint n_keys = 0;

  /* As installed: all defaults. */
  g_assert_true (natterd_config_load_file (as_is, path, &error));
  g_assert_no_error (error);

  /* Every example value, uncommented: natterd's loader takes them all. */
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_string_append (all, is_commented_key (lines[i]) ? lines[i] + 1 : lines[i]);
      g_string_append_c (all, '\n');
    }
  g_assert_true (g_file_set_contents (all_path, all->str, (gssize) all->len, NULL));
  natterd_config_load_file (uncommented, all_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (uncommented->store_backend, ==, "sqlite");
  g_assert_nonnull (uncommented->store_postgresql);
  g_assert_cmpstr (uncommented->media_dir, ==, "/srv/natter/media");
  g_assert_cmpstr (uncommented->cluster_nats, ==, "nats://127.0.0.1:4222");
  g_assert_cmpstr (uncommented->cluster_node_name, ==, "a");

  /* ... and every key it knows is there. */
  g_assert_true (g_key_file_load_from_data (file, all->str, all->len, G_KEY_FILE_NONE, &error));
  for (guint i = 0; natterd_config_get_key (i, &group, &key); i++)
    {
      if (!g_key_file_has_key (file, group, key, NULL))
        g_error ("the sample natterd.conf lacks [%s] %s", group, key);
      n_keys++;
    }
  g_test_message ("%u keys", n_keys);
  g_assert_cmpuint (n_keys, >=, 46);

  g_unlink (all_path);
  g_rmdir (dir);
}

/* Where `meson install` puts natterd, the unit and the sample. */
static void
test_installed (void)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;
  g_autofree char *unit_text = NULL;
  g_autofree char *exec_start = NULL;
  const char *natterd = NULL, *unit = NULL, *sample = NULL;
  JsonObject *installed;
  GList *members;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                              env ("MESON"), "introspect", "--installed", env ("MESON_BUILD_ROOT"), NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  installed = json_node_get_object (json_parser_get_root (parser));

  members = json_object_get_members (installed);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *to = json_object_get_string_member (installed, l->data);

      if (g_str_has_suffix (to, "/bin/natterd"))
        natterd = to;
      else if (g_str_has_suffix (to, "/lib/systemd/system/natterd.service"))
        unit = to;
      else if (g_str_has_suffix (to, "/share/doc/natter/natterd.conf"))
        sample = to;
    }
  g_list_free (members);
  g_test_message ("natterd → %s, unit → %s, sample → %s", natterd, unit, sample);
  g_assert_nonnull (natterd);
  g_assert_nonnull (unit);
  g_assert_nonnull (sample);

  /* The installed unit starts the installed natterd. */
  {
    g_autoptr(GKeyFile) file = load_unit (env ("NATTERD_UNIT"));

    exec_start = g_key_file_get_value (file, "Service", "ExecStart", NULL);
  }
  g_assert_true (g_str_has_prefix (exec_start, natterd));
  g_assert_cmpint (exec_start[strlen (natterd)], ==, ' ');
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/data/natterd/unit-keys", test_unit_keys);
  if (g_getenv ("SYSTEMD_ANALYZE") != NULL)
    g_test_add_func ("/data/natterd/unit-verify", test_unit_verify);
  g_test_add_func ("/data/natterd/sample-config", test_sample_config);
  g_test_add_func ("/data/natterd/installed", test_installed);

  return g_test_run ();
}
