#ifndef C_HAREPOST_PROTO_H
#define C_HAREPOST_PROTO_H

/* The C side of harepost's protobuf layer: libprotobuf-c, the descriptor
 * registry, and a few fixed-argument helpers. Only HarepostProto imports this. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "hp_registry.h"
#include "hp_envelope.h"

/* The allocator behind every protobuf-c message harepost builds or unpacks:
 * malloc/free, plus a per-thread count of live allocations (for leak checks). */
ProtobufCAllocator *hp_allocator(void);
void *hp_malloc(size_t size);
char *hp_strdup(const char *string);

/* Allocations made through hp_allocator on this thread minus those freed on it.
 * A synchronous build/pack/unpack/free sequence leaves it unchanged. */
int64_t hp_thread_live_allocations(void);

/* Allocates a message of `descriptor`'s type with hp_malloc and initialises it
 * to its defaults. Free it (and everything it points to, all hp_malloc'd) with
 * protobuf_c_message_free_unpacked(message, hp_allocator()). */
ProtobufCMessage *hp_message_new(const ProtobufCMessageDescriptor *descriptor);

#endif
