#ifndef C_HAREPOST_PROTO_H
#define C_HAREPOST_PROTO_H

/* The C side of harepost's protobuf layer: libprotobuf-c, the descriptor
 * registry, and a few fixed-argument helpers. Only HarepostProto imports this. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "hp_registry.h"

/* Allocates a message of `descriptor`'s type with malloc and initialises it to
 * its defaults. Free it (and everything it points to, all malloc'd) with
 * protobuf_c_message_free_unpacked(message, NULL). */
ProtobufCMessage *hp_message_new(const ProtobufCMessageDescriptor *descriptor);

/* protobuf-c's own "empty string" sentinel; proto3 string fields point at it
 * when empty and protobuf_c_message_free_unpacked never frees it. */
const char *hp_empty_string(void);

/* Bytes currently allocated with malloc in this process (glibc mallinfo2).
 * For leak checks: the protobuf tests assert round trips free what they allocate. */
size_t hp_heap_bytes_in_use(void);

#endif
