/* natter-frame.h — the one encoder/decoder of Natter protocol frames
 *
 * Client and server both decode through here, so every frame that reaches
 * either side has been checked the same way: size, protobuf structure, the
 * direction it travels, required fields, UTF-8 of every string, the form of
 * ids and the JSON of message content.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "natter-codes.h"
#include "natter-object-names.h"
#include "natter.pb-c.h"

G_BEGIN_DECLS

typedef Natter__Frame NatterFrame;

/* Who sent a frame: decides which frame types are acceptable. */
typedef enum {
  NATTER_PEER_CLIENT,
  NATTER_PEER_SERVER,
} NatterPeer;

#define NATTER_PROTO_ERROR (natter_proto_error_quark ())

typedef enum {
  NATTER_PROTO_ERROR_TOO_LARGE,         /* frame over NATTER_FRAME_MAX_SIZE */
  NATTER_PROTO_ERROR_MALFORMED,         /* not a protobuf Frame (garbage, truncated) */
  NATTER_PROTO_ERROR_EMPTY,             /* a Frame with no body */
  NATTER_PROTO_ERROR_WRONG_DIRECTION,   /* a frame this peer never sends */
  NATTER_PROTO_ERROR_MISSING_FIELD,
  NATTER_PROTO_ERROR_INVALID_UTF8,
  NATTER_PROTO_ERROR_INVALID_ID,
  NATTER_PROTO_ERROR_INVALID_VALUE,
  NATTER_PROTO_ERROR_CONTENT_TOO_LARGE, /* content over NATTER_CONTENT_MAX_SIZE */
  NATTER_PROTO_ERROR_INVALID_CONTENT,   /* content is not a JSON object */
} NatterProtoError;

GQuark       natter_proto_error_quark (void);

/* Structure only: size limit, protobuf parse, a body present. */
NatterFrame *natter_frame_unpack      (const guint8      *data,
                                       gsize              length,
                                       GError           **error);
/* Semantics: direction, required fields, UTF-8, ids, limits, content JSON.
 * A frame that unpacks but does not validate can still be answered in
 * context (a PublishAck or Result carrying natter_proto_error_to_code()). */
gboolean     natter_frame_validate    (const NatterFrame *frame,
                                       NatterPeer         sender,
                                       GError           **error);
/* unpack + validate */
NatterFrame *natter_frame_decode      (const guint8      *data,
                                       gsize              length,
                                       NatterPeer         sender,
                                       GError           **error);
/* Frames built with NATTER__FRAME__INIT etc. on the stack are encoded here;
 * fails only when the result would exceed NATTER_FRAME_MAX_SIZE. */
GBytes      *natter_frame_encode      (const NatterFrame *frame,
                                       GError           **error);
/* Frees a frame returned by natter_frame_unpack()/natter_frame_decode(). */
void         natter_frame_free        (NatterFrame       *frame);

const char  *natter_frame_type_name   (const NatterFrame *frame);

/* Protocol code to answer a frame that failed validation with. */
int          natter_proto_error_to_code (const GError    *error);

/* Checks used for fields outside frames too (server API parameters). */
gboolean     natter_id_is_valid       (const char        *id);
gboolean     natter_content_is_valid  (const char        *content,
                                       GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterFrame, natter_frame_free)

G_END_DECLS
