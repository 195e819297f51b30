/* natter-fuzz-seeds.c — writes one valid frame of each kind into a directory,
 * the starting corpus of natter-fuzz-frame.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>

#include "natter-frame.h"

static void
write_seed (const char        *dir,
            const char        *name,
            const NatterFrame *frame)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = natter_frame_encode (frame, &error);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  if (bytes == NULL ||
      !g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error))
    g_error ("%s: %s", path, error->message);
}

int
main (int   argc,
      char *argv[])
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Message message = NATTER__MESSAGE__INIT;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__HistoryResult history_result = NATTER__HISTORY_RESULT__INIT;
  Natter__Message *messages[] = { &message };

  if (argc != 2)
    {
      g_printerr ("usage: %s DIR\n", argv[0]);
      return 2;
    }
  g_mkdir_with_parents (argv[1], 0755);

  connect.app_key = (char *) "appkey";
  connect.token = (char *) "token";
  connect.device_id = (char *) "device";
  connect.last_seq = 10;
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;
  write_seed (argv[1], "connect", &frame);

  publish.client_msg_id = (char *) "m1";
  publish.conversation_type = 1;
  publish.target_id = (char *) "bob";
  publish.object_name = (char *) "RC:TxtMsg";
  publish.content = (char *) "{\"content\":\"hello\",\"user\":{\"id\":\"alice\"}}";
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  write_seed (argv[1], "publish", &frame);

  message.message_uid = (char *) "AAAA-BBBB-CCCC-DDDD";
  message.conversation_type = 3;
  message.target_id = (char *) "g1";
  message.sender_user_id = (char *) "alice";
  message.object_name = (char *) "RC:TxtMsg";
  message.content = (char *) "{\"content\":\"hi\"}";
  message.sent_time = 1700000000000;
  deliver.seq = 5;
  deliver.message = &message;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  write_seed (argv[1], "deliver", &frame);

  history.conversation_type = 1;
  history.target_id = (char *) "bob";
  history.count = 20;
  query.request_id = 1;
  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &history;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = &query;
  write_seed (argv[1], "query-history", &frame);

  history_result.n_messages = 1;
  history_result.messages = messages;
  result.request_id = 1;
  result.payload_case = NATTER__RESULT__PAYLOAD_HISTORY;
  result.history = &history_result;
  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = &result;
  write_seed (argv[1], "result-history", &frame);

  return 0;
}
