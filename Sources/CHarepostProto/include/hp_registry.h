#ifndef HP_REGISTRY_H
#define HP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Every message and service descriptor compiled from proto/ (and the
 * well-known types it imports). Implemented in generated/hp_registry.c. */
size_t hp_registry_message_count(void);
const ProtobufCMessageDescriptor *hp_registry_message_at(size_t index);
size_t hp_registry_service_count(void);
const ProtobufCServiceDescriptor *hp_registry_service_at(size_t index);

/* A field proto/ declares as `string`. The C code carries every string as
 * bytes (ProtobufCBinaryData, pointer and length) so that U+0000 survives;
 * these tell the Swift layer which bytes fields hold text. */
typedef struct {
  const char *message;
  uint32_t number;
} hp_string_field;
size_t hp_registry_string_field_count(void);
const hp_string_field *hp_registry_string_field_at(size_t index);

#endif
