#ifndef C_HAREPOST_PROTO_H
#define C_HAREPOST_PROTO_H

/* The C side of harepost's protobuf layer: libprotobuf-c, the descriptor
 * registry, and a few fixed-argument helpers. Only HarepostProto imports this. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "hp_registry.h"
#include "hp_arena.h"
#include "hp_envelope.h"

/* Arena blocks (hp_arena.h) malloc'd on this thread minus those released on
 * it. A build/pack or unpack/read sequence in one arena leaves it unchanged. */
int64_t hp_thread_live_allocations(void);

#endif
