/* natter-test-client.h — a small natter.v2 WebSocket client for tests
 *
 * libsoup + natter-proto only: speaks to the real natterd the way any client
 * would, and checks every frame natterd sends with natter_frame_decode() (a
 * frame natterd should never have sent fails the test).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-frame.h"
#include "natter-test-server.h"

G_BEGIN_DECLS

typedef struct _NatterTestClient NatterTestClient;

#define NATTER_TEST_TIMEOUT_MS 10000

/* A WebSocket to @server's /ws (natter.v2); NULL and @error if refused. */
NatterTestClient *natter_test_client_open          (NatterTestServer   *server,
                                                    GError            **error);
/* Sends Connect and waits for ConnectAck; returns its code. */
int               natter_test_client_connect       (NatterTestClient   *self,
                                                    const char         *app_key,
                                                    const char         *token,
                                                    const char         *device_id,
                                                    guint64             last_seq);
/* open + getToken + connect as @user_id on @device_id; asserts success. */
NatterTestClient *natter_test_client_new_user      (NatterTestServer   *server,
                                                    const char         *user_id,
                                                    const char         *device_id);
void              natter_test_client_free          (NatterTestClient   *self);
/* Closes with @code (e.g. NATTER_CLOSE_LOGOUT) and waits until closed. */
void              natter_test_client_close         (NatterTestClient   *self,
                                                    gushort             code);

/* Frames go to @func (which must not free them) instead of the queue that
 * natter_test_client_expect() reads; NULL restores the queue. ConnectAck is
 * always queued, so the func can be set before natter_test_client_connect()
 * and sees the offline replay that follows it. */
typedef void (*NatterTestFrameFunc) (NatterTestClient  *client,
                                     const NatterFrame *frame,
                                     gpointer           user_data);
void              natter_test_client_set_frame_func (NatterTestClient  *self,
                                                     NatterTestFrameFunc func,
                                                     gpointer           user_data);

/* Deliver frames are acked (DeliverAck) as they arrive unless turned off. */
void              natter_test_client_set_auto_ack  (NatterTestClient   *self,
                                                    gboolean            auto_ack);
guint64           natter_test_client_get_last_seq  (NatterTestClient   *self);
const char       *natter_test_client_get_user_id   (NatterTestClient   *self);
guint64           natter_test_client_get_max_seq   (NatterTestClient   *self);

void              natter_test_client_send          (NatterTestClient   *self,
                                                    const NatterFrame  *frame);
/* TRUE: what is sent from now on waits in the kernel (TCP_CORK) until
 * FALSE, so a burst reaches natterd in one piece, as from a fast client,
 * however the two processes are scheduled. */
void              natter_test_client_hold_output   (NatterTestClient   *self,
                                                    gboolean            hold);
void              natter_test_client_send_bytes    (NatterTestClient   *self,
                                                    GBytes             *bytes);
void              natter_test_client_send_text     (NatterTestClient   *self,
                                                    const char         *text);

/* Publish with a fresh client_msg_id (returned); natter_test_client_publish_full
 * takes the id and flags. */
char             *natter_test_client_publish       (NatterTestClient   *self,
                                                    int                 conversation_type,
                                                    const char         *target_id,
                                                    const char         *object_name,
                                                    const char         *content);
void              natter_test_client_publish_full  (NatterTestClient   *self,
                                                    const char         *client_msg_id,
                                                    int                 conversation_type,
                                                    const char         *target_id,
                                                    const char         *object_name,
                                                    const char         *content,
                                                    guint               flags);
/* Publishes and waits for the PublishAck; returns it. */
NatterFrame      *natter_test_client_send_message  (NatterTestClient   *self,
                                                    int                 conversation_type,
                                                    const char         *target_id,
                                                    const char         *object_name,
                                                    const char         *content);
/* The PublishAck of @client_msg_id. */
NatterFrame      *natter_test_client_wait_ack      (NatterTestClient   *self,
                                                    const char         *client_msg_id);

/* Sends @query with a fresh request id and waits for its Result. */
NatterFrame      *natter_test_client_query         (NatterTestClient   *self,
                                                    Natter__Query      *query);

/* natter.v2 group timelines: one timeline_sync page (the Result frame), and
 * one timeline page. */
NatterFrame      *natter_test_client_timeline_sync (NatterTestClient   *self,
                                                    gint64              since,
                                                    const char         *cursor,
                                                    guint               limit);
NatterFrame      *natter_test_client_timeline      (NatterTestClient   *self,
                                                    int                 conversation_type,
                                                    const char         *target_id,
                                                    guint64             after_seq,
                                                    guint               count);
/* Every message of a timeline after @after_seq, paged through with
 * `timeline` (asserting each page succeeds and seqs follow on without a
 * gap): the contents, oldest first. */
GPtrArray        *natter_test_client_fetch_timeline (NatterTestClient  *self,
                                                     int                conversation_type,
                                                     const char        *target_id,
                                                     guint64            after_seq);
/* The state of @target_id in a full sync since @since (NULL if it did not
 * move); a copy, free with natter__timeline_state__free_unpacked(). */
Natter__TimelineState *natter_test_client_sync_state (NatterTestClient *self,
                                                      gint64            since,
                                                      const char       *target_id,
                                                      gint64           *sync_time);

/* The next frame of @body (others stay queued), or NULL after @timeout_ms. */
NatterFrame      *natter_test_client_expect        (NatterTestClient   *self,
                                                    Natter__Frame__BodyCase body,
                                                    guint               timeout_ms);
/* Asserts no frame of @body arrives within @timeout_ms. */
void              natter_test_client_expect_none   (NatterTestClient   *self,
                                                    Natter__Frame__BodyCase body,
                                                    guint               timeout_ms);
/* Waits until the server closes; returns the close code (0 on timeout). */
gushort           natter_test_client_wait_closed   (NatterTestClient   *self,
                                                    guint               timeout_ms);
const char       *natter_test_client_get_close_reason (NatterTestClient *self);
gboolean          natter_test_client_is_open       (NatterTestClient   *self);

/* Runs the default main context until @done returns TRUE or @timeout_ms. */
gboolean          natter_test_wait                 (gboolean          (*done) (gpointer data),
                                                    gpointer            data,
                                                    guint               timeout_ms);

/* FALSE in sanitizer builds: AddressSanitizer keeps freed memory in
 * quarantine (and counts the heap its own way), so natterd's memory says
 * nothing there and bounds on it are not checked. */
static inline gboolean
natter_test_memory_is_measured (void)
{
#if defined(__SANITIZE_ADDRESS__)
  g_test_message ("AddressSanitizer build: memory bounds not checked");
  return FALSE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  g_test_message ("AddressSanitizer build: memory bounds not checked");
  return FALSE;
#else
  return TRUE;
#endif
#else
  return TRUE;
#endif
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterTestClient, natter_test_client_free)

G_END_DECLS
