/* natter-fuzz-token.c — libFuzzer target for token checks
 *
 * A token comes with every connect (Connect.token) and every media request
 * (Authorization: Bearer, ?token=). Whatever the bytes: no crash, no leak,
 * one of the connect codes, and a user only with 0, the same user whether
 * the app key comes with the token or from it.
 *
 * The directory holds two apps and three users of the first: alice, bob
 * (blocked) and carol (her tokens revoked); the seeds are tokens of theirs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natter-codes.h"
#include "natterd-directory.h"

#include <string.h>

static NatterdDirectory *directory;

static NatterdApp *
add_app (gint64      id,
         const char *key,
         const char *token_key)
{
  NatterdAppRecord record = { 0 };
  g_autoptr(GBytes) bytes = g_bytes_new_static (token_key, strlen (token_key));

  record.id = id;
  record.app_key = (char *) key;
  record.app_secret = (char *) "secret";
  record.name = (char *) key;
  record.token_key = bytes;
  record.settings = (char *) "{}";
  record.created = NATTER_FUZZ_NOW_MS;
  return natterd_directory_add_app (directory, &record);
}

static void
set_up (void)
{
  NatterdApp *app;

  directory = natterd_directory_new ();
  app = add_app (1, NATTER_FUZZ_APP_KEY, NATTER_FUZZ_TOKEN_KEY);
  add_app (2, "otherapp", "another-key-another-key-another!");
  natterd_directory_add_user (directory, app, "alice", 0);
  natterd_directory_add_user (directory, app, "bob", 0)->blocked_until = G_MAXINT64;
  natterd_directory_add_user (directory, app, "carol", 0)->tokens_valid_after = NATTER_FUZZ_NOW_MS;
}

static void
check_code (int          code,
            NatterdUser *user)
{
  switch (code)
    {
    case NATTER_CODE_OK:
      g_assert_nonnull (user);
      g_assert_cmpstr (user->app->key, ==, NATTER_FUZZ_APP_KEY);
      break;
    case NATTER_CODE_APP_KEY_REJECTED:
    case NATTER_CODE_TOKEN_INCORRECT:
    case NATTER_CODE_APP_KEY_MISMATCH:
    case NATTER_CODE_APP_BLOCKED:
    case NATTER_CODE_USER_BLOCKED:
    case NATTER_CODE_TOKEN_EXPIRED:
      g_assert_null (user);
      break;
    default:
      g_error ("Unexpected code %d", code);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *token = natter_fuzz_string (data, size);
  NatterdUser *user = NULL;
  NatterdUser *any_user = NULL;
  gint64 issued = -1;
  int code, any_code;

  natter_fuzz_quiet_logs ();
  if (directory == NULL)
    set_up ();

  /* Connect: the app key is the frame's. */
  code = natterd_token_check (directory, NATTER_FUZZ_APP_KEY, token, NATTER_FUZZ_NOW_MS,
                              &user, &issued);
  check_code (code, user);
  if (code == NATTER_CODE_OK)
    g_assert_cmpint (issued, >=, 0);

  /* Media: the app is the one the token names. */
  any_code = natterd_token_check_any (directory, token, NATTER_FUZZ_NOW_MS, &any_user);
  check_code (any_code, any_user);
  if (code == NATTER_CODE_OK)
    {
      g_assert_cmpint (any_code, ==, NATTER_CODE_OK);
      g_assert_true (any_user == user);
    }

  return 0;
}
