/* test-message.c — NatterMessage: the seed's JSON, typed accessors, content
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter.h"
#include "natter-message-private.h"
#include <glib/gstdio.h>
#include <string.h>

#include "test-helpers.h"

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonObject *object = natter_content_parse (json, &error);

  g_assert_no_error (error);
  return object;
}

static void
test_seed_json (void)
{
  g_autoptr(JsonObject) content = parse_object ("{\"content\":\"hello\",\"extra\":\"RongCloud\"}");
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *json, *json_content;

  message = natter_message_new_full (36, "5CQK-MT6L-G43A-D3EE", NATTER_CONVERSATION_PRIVATE, "user9",
                                     "user8", NATTER_OBJECT_TEXT, content,
                                     NATTER_MESSAGE_DIRECTION_SEND, NATTER_SENT_STATUS_SENT,
                                     1484621850284, 1484621850300, FALSE, 0, "c-1", 3);
  node = natter_message_to_json (message);
  json = json_node_get_object (node);

  /* Every field of the FAQ's example, with its value. */
  json_content = json_object_get_object_member (json, "content");
  g_assert_cmpstr (json_object_get_string_member (json_content, "messageName"), ==, "TextMessage");
  g_assert_cmpstr (json_object_get_string_member (json_content, "content"), ==, "hello");
  g_assert_cmpstr (json_object_get_string_member (json_content, "extra"), ==, "RongCloud");
  g_assert_cmpint (json_object_get_int_member (json, "conversationType"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json, "objectName"), ==, "RC:TxtMsg");
  g_assert_cmpint (json_object_get_int_member (json, "messageDirection"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json, "messageId"), ==, 36);
  g_assert_cmpstr (json_object_get_string_member (json, "senderUserId"), ==, "user8");
  g_assert_cmpint (json_object_get_int_member (json, "sentStatus"), ==, 30);
  g_assert_cmpint (json_object_get_int_member (json, "sentTime"), ==, 1484621850284);
  g_assert_cmpstr (json_object_get_string_member (json, "targetId"), ==, "user9");
  g_assert_cmpstr (json_object_get_string_member (json, "messageType"), ==, "TextMessage");
  g_assert_cmpstr (json_object_get_string_member (json, "messageUId"), ==, "5CQK-MT6L-G43A-D3EE");
  g_assert_cmpint (json_object_get_int_member (json, "receivedTime"), ==, 1484621850300);
  g_assert_false (json_object_get_boolean_member (json, "offLineMessage"));
  g_assert_false (json_object_has_member (json, "errorCode"));

  /* The message's own content is not changed by that. */
  g_assert_false (json_object_has_member (natter_message_get_content (message), "messageName"));
}

static void
test_kinds_and_accessors (void)
{
  struct {
    const char *object_name;
    const char *content;
    NatterMessageKind kind;
  } cases[] = {
    { "RC:TxtMsg", "{\"content\":\"hi @bob\",\"mentionedInfo\":{\"type\":2,\"userIdList\":[\"bob\",7]},"
                   "\"user\":{\"id\":\"amy\",\"name\":\"Amy\",\"portraitUri\":\"http://x/a.png\"}}",
      NATTER_MESSAGE_KIND_TEXT },
    { "RC:ImgMsg", "{\"content\":\"/9j/4AAQ\",\"imageUri\":\"http://h/media/1\"}", NATTER_MESSAGE_KIND_IMAGE },
    { "RC:FileMsg", "{\"name\":\"报告.pdf\",\"size\":\"2048\",\"type\":\"application/pdf\",\"fileUrl\":\"http://h/media/2\"}",
      NATTER_MESSAGE_KIND_FILE },
    { "RC:HQVCMsg", "{\"remoteUrl\":\"http://h/media/3\",\"duration\":7.9,\"type\":\"ogg\"}", NATTER_MESSAGE_KIND_HQ_VOICE },
    { "RC:VCSummary", "{\"caller\":\"amy\",\"mediaType\":2,\"startTime\":1,\"connectedTime\":2,\"duration\":201,\"status\":13}",
      NATTER_MESSAGE_KIND_CALL_SUMMARY },
    { "RC:VCHangup", "{\"callId\":\"c1\",\"reason\":4}", NATTER_MESSAGE_KIND_CALL_SIGNAL },
    { "NT:VCIce", "{\"callId\":\"c1\",\"candidate\":\"x\",\"sdpMLineIndex\":0}", NATTER_MESSAGE_KIND_CALL_SIGNAL },
    { "RC:RcNtf", "{\"operatorId\":\"amy\",\"recallTime\":5,\"originalObjectName\":\"RC:TxtMsg\"}",
      NATTER_MESSAGE_KIND_RECALLED },
    { "RC:ReadNtf", "{\"lastMessageSendTime\":99,\"messageUId\":\"U\",\"type\":1}", NATTER_MESSAGE_KIND_READ_NOTIFICATION },
    { "XX:Poll", "{\"question\":\"?\"}", NATTER_MESSAGE_KIND_UNSUPPORTED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonObject) content = parse_object (cases[i].content);
      g_autoptr(NatterMessage) message = natter_message_new (NATTER_CONVERSATION_PRIVATE, "bob", "amy",
                                                             cases[i].object_name, content);
      g_autofree char *preview = natter_message_dup_preview (message);

      g_assert_cmpint (natter_message_get_kind (message), ==, cases[i].kind);
      g_assert_nonnull (preview);

      switch (cases[i].kind)
        {
        case NATTER_MESSAGE_KIND_TEXT:
          {
            g_auto(GStrv) ids = natter_message_dup_mentioned_user_ids (message);

            g_assert_cmpstr (natter_message_get_text (message), ==, "hi @bob");
            g_assert_cmpint (natter_message_get_mention_type (message), ==, 2);
            /* The number in the list is not an id: skipped, not a crash. */
            g_assert_cmpuint (g_strv_length (ids), ==, 1);
            g_assert_true (natter_message_mentions (message, "bob"));
            g_assert_false (natter_message_mentions (message, "carol"));
            g_assert_cmpstr (natter_message_get_user_name (message), ==, "Amy");
            g_assert_cmpstr (natter_message_get_user_portrait_uri (message), ==, "http://x/a.png");
            g_assert_cmpstr (preview, ==, "hi @bob");
            g_assert_true (natter_message_is_persisted (message));
          }
          break;
        case NATTER_MESSAGE_KIND_IMAGE:
          {
            g_autoptr(GBytes) thumbnail = natter_message_dup_image_thumbnail (message);

            g_assert_nonnull (thumbnail);
            g_assert_cmpuint (((const guint8 *) g_bytes_get_data (thumbnail, NULL))[0], ==, 0xff);
            g_assert_cmpstr (natter_message_get_image_uri (message), ==, "http://h/media/1");
            g_assert_null (natter_message_get_text (message));
          }
          break;
        case NATTER_MESSAGE_KIND_FILE:
          g_assert_cmpstr (natter_message_get_file_name (message), ==, "报告.pdf");
          g_assert_cmpint (natter_message_get_file_size (message), ==, 2048);
          g_assert_cmpstr (natter_message_get_file_url (message), ==, "http://h/media/2");
          break;
        case NATTER_MESSAGE_KIND_HQ_VOICE:
          g_assert_cmpstr (natter_message_get_voice_url (message), ==, "http://h/media/3");
          g_assert_cmpint (natter_message_get_voice_duration (message), ==, 7);
          break;
        case NATTER_MESSAGE_KIND_CALL_SUMMARY:
          g_assert_cmpint (natter_message_get_call_media_type (message), ==, NATTER_CALL_MEDIA_VIDEO);
          g_assert_cmpint (natter_message_get_call_reason (message), ==, NATTER_CALL_REASON_REMOTE_HANGUP);
          g_assert_cmpint (natter_message_get_call_duration (message), ==, 201);
          g_assert_cmpstr (natter_message_get_call_caller (message), ==, "amy");
          break;
        case NATTER_MESSAGE_KIND_CALL_SIGNAL:
          g_assert_cmpstr (natter_message_get_call_id (message), ==, "c1");
          g_assert_true (natter_message_is_status (message));
          g_assert_false (natter_message_is_persisted (message));
          break;
        case NATTER_MESSAGE_KIND_RECALLED:
          g_assert_cmpstr (natter_message_get_recalled_object_name (message), ==, "RC:TxtMsg");
          break;
        case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
          g_assert_cmpint (natter_message_get_last_message_send_time (message), ==, 99);
          break;
        case NATTER_MESSAGE_KIND_UNSUPPORTED:
          g_assert_false (natter_message_is_supported (message));
          g_assert_cmpstr (natter_message_get_message_type (message), ==, "UnknownMessage");
          /* A custom name travels persisted and counted, its content kept. */
          g_assert_true (natter_message_is_persisted (message));
          g_assert_cmpstr (json_object_get_string_member (natter_message_get_content (message), "question"),
                           ==, "?");
          break;
        default:
          break;
        }
    }
}

static void
test_hostile_content (void)
{
  /* Wrong types everywhere: every accessor answers, none crashes. */
  g_autoptr(JsonObject) content = parse_object ("{\"content\":[1,2],\"imageUri\":{},\"user\":\"x\","
                                                "\"mentionedInfo\":{\"type\":\"2\",\"userIdList\":\"bob\"}}");
  g_autoptr(NatterMessage) text = natter_message_new (1, "bob", "amy", "RC:TxtMsg", content);
  g_autoptr(NatterMessage) image = natter_message_new (1, "bob", "amy", "RC:ImgMsg", content);
  g_autoptr(JsonObject) bad64 = parse_object ("{\"content\":\"not base64 at all!\"}");
  g_autoptr(NatterMessage) bad_image = natter_message_new (1, "bob", "amy", "RC:ImgMsg", bad64);
  g_autofree char *preview = natter_message_dup_preview (text);

  g_assert_null (natter_message_get_text (text));
  g_assert_cmpstr (preview, ==, "");
  g_assert_null (natter_message_get_user_name (text));
  g_assert_null (natter_message_dup_mentioned_user_ids (text));
  g_assert_null (natter_message_dup_image_thumbnail (image));
  g_assert_null (natter_message_get_image_uri (image));
  g_assert_null (natter_message_dup_image_thumbnail (bad_image));

  /* Stored text that is not JSON reads as an empty object. */
  {
    g_autoptr(NatterMessage) row = natter_message_new_row (1, NULL, 1, "bob", "amy", "RC:TxtMsg", "{oops",
                                                           1, 30, 1, 1, FALSE, 0, NULL, 3);
    g_assert_nonnull (natter_message_get_content (row));
    g_assert_null (natter_message_get_text (row));
  }
}

static void
test_thumbnail (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natter-thumb-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "big.png", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base64 = NULL;
  g_autofree guchar *jpeg = NULL;
  gsize length = 0;
  g_autoptr(GdkPixbuf) noise = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 1600, 1200);
  g_autofree char *ppm_path = g_build_filename (dir, "noise.png", NULL);
  g_autoptr(GFile) ppm_file = g_file_new_for_path (ppm_path);

  /* A noisy 1600×1200 picture, the worst case for JPEG size (a PNG: what
   * a chat sends as an image). */
  for (int y = 0; y < 1200; y++)
    for (int x = 0; x < 1600 * 3; x++)
      gdk_pixbuf_get_pixels (noise)[y * gdk_pixbuf_get_rowstride (noise) + x] = g_random_int () & 0xff;
  gdk_pixbuf_save (noise, ppm_path, "png", &error, "compression", "1", NULL);
  g_assert_no_error (error);

  natter_image_thumbnail_new_async (ppm_file, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 60);
  base64 = natter_image_thumbnail_new_finish (result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (base64);
  g_assert_cmpuint (strlen (base64), <=, 100 * 1000);
  g_assert_false (g_str_has_prefix (base64, "data:"));
  jpeg = g_base64_decode (base64, &length);
  g_assert_cmpuint (length, >, 2);
  g_assert_cmpuint (jpeg[0], ==, 0xff);
  g_assert_cmpuint (jpeg[1], ==, 0xd8);

  /* Not an image: a clear error. */
  g_clear_object (&result);
  natter_image_thumbnail_new_async (file, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_null (natter_image_thumbnail_new_finish (result, &error));
  g_assert_nonnull (error);

  g_remove (ppm_path);
  g_rmdir (dir);
}

/* natter_message_copy(): every field, a row's content still unparsed, the
 * sender's profile; changing the copy leaves the original alone. */
static void
test_copy (void)
{
  g_autoptr(NatterMessage) row = NULL;
  g_autoptr(NatterMessage) copy = NULL;
  g_autoptr(NatterMessage) again = NULL;
  g_autofree char *row_json = NULL;
  g_autofree char *copy_json = NULL;

  row = natter_message_new_row (7, "UID-7", NATTER_CONVERSATION_GROUP, "team", "erin", NATTER_OBJECT_TEXT,
                                "{\"content\":\"hi\",\"extra\":\"x\"}", NATTER_MESSAGE_DIRECTION_RECEIVE,
                                NATTER_SENT_STATUS_READ, 1000, 2000, TRUE, 20604, "c-7", 5);
  natter_message_set_sender_profile (row, "艾琳", "http://127.0.0.1/erin.png");

  copy = natter_message_copy (row);
  g_assert_true (copy != row);
  g_assert_cmpint (natter_message_get_message_id (copy), ==, 7);
  g_assert_cmpstr (natter_message_get_message_uid (copy), ==, "UID-7");
  g_assert_cmpint (natter_message_get_conversation_type (copy), ==, NATTER_CONVERSATION_GROUP);
  g_assert_cmpstr (natter_message_get_target_id (copy), ==, "team");
  g_assert_cmpstr (natter_message_get_sender_user_id (copy), ==, "erin");
  g_assert_cmpstr (natter_message_get_object_name (copy), ==, NATTER_OBJECT_TEXT);
  g_assert_cmpint (natter_message_get_direction (copy), ==, NATTER_MESSAGE_DIRECTION_RECEIVE);
  g_assert_cmpint (natter_message_get_sent_status (copy), ==, NATTER_SENT_STATUS_READ);
  g_assert_cmpint (natter_message_get_sent_time (copy), ==, 1000);
  g_assert_cmpint (natter_message_get_received_time (copy), ==, 2000);
  g_assert_true (natter_message_get_offline (copy));
  g_assert_cmpint (natter_message_get_error_code (copy), ==, 20604);
  g_assert_cmpstr (natter_message_get_client_msg_id (copy), ==, "c-7");
  g_assert_cmpuint (natter_message_get_flags (copy), ==, natter_message_get_flags (row));
  g_assert_cmpstr (natter_message_get_sender_name (copy), ==, "艾琳");
  g_assert_cmpstr (natter_message_get_sender_portrait_uri (copy), ==, "http://127.0.0.1/erin.png");
  g_assert_cmpstr (natter_message_get_text (copy), ==, "hi");
  row_json = natter_message_to_json_string (row);
  copy_json = natter_message_to_json_string (copy);
  g_assert_cmpstr (copy_json, ==, row_json);

  /* A parsed content is shared (sealed), not parsed again. */
  again = natter_message_copy (copy);
  g_assert_true (natter_message_get_content (again) == natter_message_get_content (copy));

  natter_message_set_sent_status (copy, NATTER_SENT_STATUS_SENDING);
  natter_message_set_message_uid (copy, NULL);
  natter_message_set_sender_user_id (copy, "amy");
  g_assert_cmpint (natter_message_get_sent_status (row), ==, NATTER_SENT_STATUS_READ);
  g_assert_cmpstr (natter_message_get_message_uid (row), ==, "UID-7");
  g_assert_cmpstr (natter_message_get_sender_user_id (row), ==, "erin");
  g_assert_null (natter_message_get_message_uid (copy));
  g_assert_cmpstr (natter_message_get_sender_user_id (copy), ==, "amy");
}

/* RC:ReferenceMsg: built by natter_content_new_reference() and read back;
 * a quote whose members have the wrong types reads as absent. */
static void
test_reference (void)
{
  g_autoptr(JsonObject) quoted = parse_object ("{\"content\":\"first\"}");
  g_autoptr(JsonObject) content = natter_content_new_reference ("a reply", "alice", "RC:TxtMsg", quoted);
  g_autoptr(NatterMessage) reply = natter_message_new (NATTER_CONVERSATION_PRIVATE, "bob", "carol",
                                                       "RC:ReferenceMsg", content);
  g_autoptr(JsonObject) bad = parse_object ("{\"content\":\"x\",\"referMsgUserId\":7,"
                                            "\"objName\":[],\"referMsg\":\"not an object\"}");
  g_autoptr(NatterMessage) hostile = natter_message_new (NATTER_CONVERSATION_PRIVATE, "bob", "carol",
                                                         "RC:ReferenceMsg", bad);
  g_autoptr(NatterMessage) text = natter_message_new (NATTER_CONVERSATION_PRIVATE, "bob", "carol",
                                                      "RC:TxtMsg", quoted);
  JsonObject *referred;

  g_assert_cmpint (natter_message_get_kind (reply), ==, NATTER_MESSAGE_KIND_REFERENCE);
  g_assert_cmpstr (natter_message_get_referred_user_id (reply), ==, "alice");
  g_assert_cmpstr (natter_message_get_referred_object_name (reply), ==, "RC:TxtMsg");
  referred = natter_message_get_referred_content (reply);
  g_assert_nonnull (referred);
  g_assert_cmpstr (json_object_get_string_member (referred, "content"), ==, "first");
  /* a copy: changing the quoted message afterwards does not change the reply */
  json_object_set_string_member (quoted, "content", "changed");
  g_assert_cmpstr (json_object_get_string_member (natter_message_get_referred_content (reply), "content"), ==,
                   "first");

  g_assert_null (natter_message_get_referred_user_id (hostile));
  g_assert_null (natter_message_get_referred_object_name (hostile));
  g_assert_null (natter_message_get_referred_content (hostile));
  g_assert_null (natter_message_get_referred_user_id (text));
}

/* A forwarded copy and a reply's quote are new messages (#16): the copy
 * keeps reactions enabled but has none, no edited mark, read receipts or
 * mentions; the quote leaves the original's reactions and receipts out. */
static void
test_forward_and_reply_content (void)
{
  g_autoptr(JsonObject) content =
    parse_object ("{\"content\":\"lunch\",\"editedTime\":5,\"expansion\":{\"rf09f918d\":\"[\\\"bob\\\"]\"},"
                  "\"mentionedInfo\":{\"type\":2,\"userIdList\":[\"bob\"]},"
                  "\"receipt\":{\"requested\":true,\"readBy\":[\"bob\"]}}");
  g_autoptr(JsonObject) plain_content = parse_object ("{\"content\":\"plain\"}");
  g_autoptr(NatterMessage) original = natter_message_new (NATTER_CONVERSATION_GROUP, "team", "alice",
                                                          "RC:TxtMsg", content);
  g_autoptr(NatterMessage) plain = natter_message_new (NATTER_CONVERSATION_PRIVATE, "bob", "alice",
                                                       "RC:TxtMsg", plain_content);
  g_autoptr(JsonObject) forward = natter_message_dup_forward_content (original);
  g_autoptr(JsonObject) plain_forward = natter_message_dup_forward_content (plain);
  g_autoptr(JsonObject) reply = natter_message_new_reply_content (original, "at one?");
  JsonObject *quoted;

  g_assert_nonnull (forward);
  g_assert_cmpstr (json_object_get_string_member (forward, "content"), ==, "lunch");
  g_assert_false (json_object_has_member (forward, "editedTime"));
  g_assert_false (json_object_has_member (forward, "mentionedInfo"));
  g_assert_false (json_object_has_member (forward, "receipt"));
  g_assert_true (json_object_has_member (forward, "expansion"));
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (forward, "expansion")), ==, 0);
  g_assert_false (json_object_has_member (plain_forward, "expansion"));
  /* the original keeps its own */
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (natter_message_get_content (original),
                                                                         "expansion")), ==, 1);

  quoted = json_object_get_object_member (reply, "referMsg");
  g_assert_nonnull (quoted);
  g_assert_cmpstr (json_object_get_string_member (quoted, "content"), ==, "lunch");
  g_assert_false (json_object_has_member (quoted, "expansion"));
  g_assert_false (json_object_has_member (quoted, "receipt"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/message/seed-json", test_seed_json);
  g_test_add_func ("/message/kinds-and-accessors", test_kinds_and_accessors);
  g_test_add_func ("/message/hostile-content", test_hostile_content);
  g_test_add_func ("/message/thumbnail", test_thumbnail);
  g_test_add_func ("/message/copy", test_copy);
  g_test_add_func ("/message/reference", test_reference);
  g_test_add_func ("/message/forward-and-reply-content", test_forward_and_reply_content);

  return g_test_run ();
}
