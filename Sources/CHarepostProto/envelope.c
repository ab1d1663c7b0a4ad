#include "CHarepostProto.h"
#include "harepost/rpc/v1/rpc.pb-c.h"

/* Metadata entries up to this count are built on the stack. */
#define STACK_ENTRIES 16

struct hp_unpacked_envelope {
  Harepost__Rpc__V1__Envelope message;
};

/* Fills `envelope` (and its metadata entries, `entries` and `pointers`, each
 * n_metadata long) from `fields`; the strings stay borrowed. */
static void fill(Harepost__Rpc__V1__Envelope *envelope, Harepost__Rpc__V1__Envelope__MetadataEntry *entries,
                 Harepost__Rpc__V1__Envelope__MetadataEntry **pointers, const hp_envelope_fields *fields) {
  harepost__rpc__v1__envelope__init(envelope);
  envelope->kind = (Harepost__Rpc__V1__FrameKind)fields->kind;
  envelope->call_id = fields->call_id;
  envelope->method = fields->method;
  envelope->timeout_ms = fields->timeout_ms;
  for (size_t i = 0; i < fields->n_metadata; i++) {
    harepost__rpc__v1__envelope__metadata_entry__init(&entries[i]);
    entries[i].key = fields->metadata_keys[i];
    entries[i].value = fields->metadata_values[i];
    pointers[i] = &entries[i];
  }
  envelope->n_metadata = fields->n_metadata;
  envelope->metadata = fields->n_metadata > 0 ? pointers : NULL;
  envelope->code = (Harepost__Rpc__V1__Code)fields->code;
  envelope->message = fields->message;
  envelope->payload.len = fields->payload_len;
  envelope->payload.data = (uint8_t *)fields->payload;
}

/* Runs `operation` on the envelope built from `fields`; `out` is passed on. */
static size_t with_envelope(const hp_envelope_fields *fields, uint8_t *out,
                            size_t (*operation)(const Harepost__Rpc__V1__Envelope *, uint8_t *)) {
  Harepost__Rpc__V1__Envelope envelope;
  size_t count = fields->n_metadata;
  if (count <= STACK_ENTRIES) {
    Harepost__Rpc__V1__Envelope__MetadataEntry entries[STACK_ENTRIES];
    Harepost__Rpc__V1__Envelope__MetadataEntry *pointers[STACK_ENTRIES];
    fill(&envelope, entries, pointers, fields);
    return operation(&envelope, out);
  }
  Harepost__Rpc__V1__Envelope__MetadataEntry *entries = malloc(count * sizeof(*entries));
  Harepost__Rpc__V1__Envelope__MetadataEntry **pointers = malloc(count * sizeof(*pointers));
  if (entries == NULL || pointers == NULL) {
    abort();
  }
  fill(&envelope, entries, pointers, fields);
  size_t result = operation(&envelope, out);
  free(pointers);
  free(entries);
  return result;
}

static size_t packed_size(const Harepost__Rpc__V1__Envelope *envelope, uint8_t *out) {
  (void)out;
  return harepost__rpc__v1__envelope__get_packed_size(envelope);
}

static size_t pack(const Harepost__Rpc__V1__Envelope *envelope, uint8_t *out) {
  return harepost__rpc__v1__envelope__pack(envelope, out);
}

size_t hp_envelope_packed_size(const hp_envelope_fields *fields) {
  return with_envelope(fields, NULL, packed_size);
}

size_t hp_envelope_pack(const hp_envelope_fields *fields, uint8_t *out) {
  return with_envelope(fields, out, pack);
}

hp_unpacked_envelope *hp_envelope_unpack(hp_arena *arena, size_t length, const uint8_t *data,
                                         hp_envelope_fields *fields) {
  Harepost__Rpc__V1__Envelope *envelope = harepost__rpc__v1__envelope__unpack(&arena->allocator, length, data);
  if (envelope == NULL) {
    return NULL;
  }
  *fields = (hp_envelope_fields){
      .kind = (int32_t)envelope->kind,
      .call_id = envelope->call_id,
      .method = envelope->method,
      .timeout_ms = envelope->timeout_ms,
      .n_metadata = envelope->n_metadata,
      .code = (int32_t)envelope->code,
      .message = envelope->message,
      .payload_len = envelope->payload.len,
      .payload = envelope->payload.data,
  };
  return (hp_unpacked_envelope *)envelope;
}

void hp_envelope_metadata_at(const hp_unpacked_envelope *envelope, size_t index, ProtobufCBinaryData *key,
                             ProtobufCBinaryData *value) {
  const Harepost__Rpc__V1__Envelope__MetadataEntry *entry = envelope->message.metadata[index];
  *key = entry->key;
  *value = entry->value;
}
