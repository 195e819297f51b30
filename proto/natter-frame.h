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
#include <stddef.h>

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

/* Room for what one typical frame unpacks to (a Publish of a few KiB);
 * more spills to malloc'd blocks. */
#define NATTER_FRAME_ARENA_SIZE 2048

/* Memory for one unpacked frame, freed all at once (#17: a Publish
 * unpacked by protobuf-c's default allocator is ~6 mallocs and frees).
 * Meant for the stack: natter_frame_arena_init(), natter_frame_unpack_in(),
 * then natter_frame_arena_clear(), which frees the frame with the rest. */
typedef struct
{
  ProtobufCAllocator allocator;
  gsize              used;
  GSList            *spill;     /* blocks that did not fit in @block */
  union {
    guint8           block[NATTER_FRAME_ARENA_SIZE];
    max_align_t      align;
  };
} NatterFrameArena;

void         natter_frame_arena_init  (NatterFrameArena  *arena);
void         natter_frame_arena_clear (NatterFrameArena  *arena);

/* Structure only: size limit, protobuf parse, a body present. */
NatterFrame *natter_frame_unpack      (const guint8      *data,
                                       gsize              length,
                                       GError           **error);
/* natter_frame_unpack() into @arena: the frame is freed with it. */
NatterFrame *natter_frame_unpack_in   (NatterFrameArena  *arena,
                                       const guint8      *data,
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

/* What natter_frame_packed_size() found, for natter_frame_pack_sized(). */
typedef struct
{
  gsize body;      /* the Frame's body message */
  gsize inner;     /* a Deliver's Message */
} NatterFrameSizes;

/* @frame packed as natter__frame__pack() would, each message sized once
 * (#17: protobuf-c sizes a nested message again at every level, four
 * times a Deliver's Message): the size it returns, then
 * natter_frame_pack_sized() into that many bytes with @sizes. */
gsize        natter_frame_packed_size (const NatterFrame     *frame,
                                       NatterFrameSizes      *sizes);
void         natter_frame_pack_sized  (const NatterFrame     *frame,
                                       const NatterFrameSizes *sizes,
                                       guint8                *out);

/* The bytes of @value as a protobuf varint. */
gsize        natter_frame_varint_size (guint64                value);

const char  *natter_frame_type_name   (const NatterFrame *frame);

/* Protocol code to answer a frame that failed validation with. */
int          natter_proto_error_to_code (const GError    *error);

/* Checks used for fields outside frames too (server API parameters). */
gboolean     natter_id_is_valid       (const char        *id);
gboolean     natter_content_is_valid  (const char        *content,
                                       GError           **error);

/* The content a conversation list carries for a latest message of
 * @object_name whose content is @full_length bytes, given its first
 * @length of them (all of it, or as much as a store reads cheaply): NULL
 * when it is at most NATTER_PREVIEW_MAX_SIZE bytes and goes as it is;
 * otherwise a JSON object of at most that size, flagged
 * NATTER_MESSAGE_FLAG_PREVIEW: its number, boolean and null members, its
 * strings cut to at most 512 bytes (at a character, never inside an
 * escape), then objects and arrays of at most 256 bytes, as long as there
 * is room; image thumbnails and voice data (the content of RC:ImgMsg and
 * RC:VcMsg) left out; of a start only, the members that begin in it.
 * Linear in @length, without parsing it all. */
char        *natter_content_preview   (const char        *object_name,
                                       const char        *content,
                                       gsize              length,
                                       gsize              full_length);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterFrame, natter_frame_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NatterFrameArena, natter_frame_arena_clear)

G_END_DECLS
