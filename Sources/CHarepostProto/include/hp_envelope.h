#ifndef HP_ENVELOPE_H
#define HP_ENVELOPE_H

/* harepost.rpc.v1.Envelope, the body of every RPC frame, packed and unpacked
 * by protobuf-c through its generated struct with fixed arguments. Every call
 * packs and unpacks two envelopes; the generic descriptor walk (a Swift
 * message, then a C message built field by field, its metadata map as
 * sub-messages) cost several times the packing itself. */

#include <stddef.h>
#include <stdint.h>
#include "hp_arena.h"

/* An envelope's fields. Strings are UTF-8 with their length (U+0000 is a
 * byte like any other; a zero length is ""); pointers are borrowed for the
 * duration of the call. */
typedef struct {
  int32_t kind;
  uint64_t call_id;
  ProtobufCBinaryData method;
  uint64_t timeout_ms;
  size_t n_metadata;
  const ProtobufCBinaryData *metadata_keys;
  const ProtobufCBinaryData *metadata_values;
  int32_t code;
  ProtobufCBinaryData message;
  size_t payload_len;
  const uint8_t *payload;
} hp_envelope_fields;

/* The packed size of `fields`. */
size_t hp_envelope_packed_size(const hp_envelope_fields *fields);

/* Packs `fields` into `out`, which has room for hp_envelope_packed_size bytes;
 * returns the bytes written. */
size_t hp_envelope_pack(const hp_envelope_fields *fields, uint8_t *out);

/* An unpacked envelope; it, its strings and its payload live in the arena it
 * was unpacked in, until that is released. */
typedef struct hp_unpacked_envelope hp_unpacked_envelope;

/* Unpacks `length` bytes at `data` in `arena` and fills `fields` with
 * pointers into the result (metadata_keys/metadata_values stay NULL: read
 * entries with hp_envelope_metadata_at). NULL if the bytes are not an
 * Envelope. */
hp_unpacked_envelope *hp_envelope_unpack(hp_arena *arena, size_t length, const uint8_t *data,
                                         hp_envelope_fields *fields);

/* Entry `index` (< fields->n_metadata) of an unpacked envelope's metadata. */
void hp_envelope_metadata_at(const hp_unpacked_envelope *envelope, size_t index, ProtobufCBinaryData *key,
                             ProtobufCBinaryData *value);

#endif
