#ifndef HP_REGISTRY_H
#define HP_REGISTRY_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* Every message and service descriptor compiled from proto/ (and the
 * well-known types it imports). Implemented in generated/hp_registry.c. */
size_t hp_registry_message_count(void);
const ProtobufCMessageDescriptor *hp_registry_message_at(size_t index);
size_t hp_registry_service_count(void);
const ProtobufCServiceDescriptor *hp_registry_service_at(size_t index);

#endif
