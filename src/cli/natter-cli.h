/* natter-cli.h — what the natter-cli commands share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

G_BEGIN_DECLS

/* Exit codes (README "natter-cli"). */
typedef enum {
  NATTER_CLI_EXIT_OK = 0,
  NATTER_CLI_EXIT_FAILURE = 1,      /* local failure: store, file, ... */
  NATTER_CLI_EXIT_USAGE = 2,
  NATTER_CLI_EXIT_AUTH = 3,         /* connect refused: 31002 31004 31005 31008 31009 31020 */
  NATTER_CLI_EXIT_KICKED = 4,       /* 31010 */
  NATTER_CLI_EXIT_REFUSED = 5,      /* the server refused the request (22408, 25101, ...) */
  NATTER_CLI_EXIT_UNAVAILABLE = 6,  /* server unreachable / timed out; a message stays in the outbox */
} NatterCliExit;

typedef struct {
  const char *program;
  char *server_url;
  char *app_key;
  char *token;
  char *profile_dir;
  char *user_id;                    /* with token_url: fetch a token */
  char *token_url;
  int timeout;                      /* seconds for connect and each request */
  gboolean verbose;
  NatterClient *client;             /* created by natter_cli_context_connect() */
  int exit_code;                    /* set by natter_cli_fail() */
  gboolean done;                    /* a command sets it to stop natter_cli_run() */
  gboolean request_receipts;        /* send --receipt: ask the group for read receipts once sent */
} NatterCliContext;

/* Creates ctx->client and connects it; returns NATTER_CLI_EXIT_OK once
 * connected, else prints why and returns the exit code. */
int  natter_cli_context_connect (NatterCliContext *ctx);
/* Creates ctx->client without connecting (local commands). */
void natter_cli_context_open    (NatterCliContext *ctx);

/* Iterates the main context until ctx->done (or @timeout_s > 0 passes:
 * then NATTER_CLI_EXIT_UNAVAILABLE). Returns ctx->exit_code. */
int  natter_cli_run             (NatterCliContext *ctx,
                                 int               timeout_s);
/* Stops natter_cli_run() with @code. */
void natter_cli_finish          (NatterCliContext *ctx,
                                 int               code);
/* Prints "natter-cli: what: message" and finishes with the exit code for @error. */
void natter_cli_fail            (NatterCliContext *ctx,
                                 const char       *what,
                                 const GError     *error);
int  natter_cli_exit_code_for   (const GError     *error);

/* One JSON value on one line of stdout, flushed (scripts read it at once). */
void natter_cli_print_json      (JsonNode         *node);
void natter_cli_print_message   (NatterMessage    *message);
/* Prints {"USER": online, …} (@statuses: user id -> online) and finishes,
 * or fails with @error when @statuses is NULL. */
void natter_cli_finish_statuses (NatterCliContext *ctx,
                                 const char       *command,
                                 GHashTable       *statuses,
                                 const GError     *error);

/* "private", "group", ... or the number; 0 when unknown. */
NatterConversationType natter_cli_parse_type (const char *text);

int  natter_cli_bench            (NatterCliContext *ctx,
                                  int               argc,
                                  char            **argv);
int  natter_cli_generate_profile (NatterCliContext *ctx,
                                  int               argc,
                                  char            **argv);

/* Presence (src/cli/natter-cli-presence.c, #16): the subscribe command,
 * and the JSON lines `listen --all` prints for presence changes. */
int  natter_cli_subscribe       (NatterCliContext *ctx,
                                 int               argc,
                                 char            **argv);
void natter_cli_watch_presence  (NatterCliContext *ctx);

/* Calls (src/cli/natter-cli-call.c, built with calls). */
int  natter_cli_call            (NatterCliContext *ctx,
                                 int               argc,
                                 char            **argv);
int  natter_cli_answer          (NatterCliContext *ctx,
                                 int               argc,
                                 char            **argv);

/* Accounts, contacts and groups (src/cli/natter-cli-accounts.c, built with
 * libsecret): the profile's sign-in fills in what the command line left
 * out; run returns -1 for a command that is not one of them. */
void natter_cli_accounts_load_profile (NatterCliContext *ctx);
void natter_cli_accounts_help         (GString          *help);
int  natter_cli_accounts_run          (NatterCliContext *ctx,
                                       int               argc,
                                       char            **argv);

G_END_DECLS
