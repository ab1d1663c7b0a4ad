#ifndef HP_ARENA_H
#define HP_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* A bump allocator for one message's build or unpack: protobuf-c allocates a
 * message's every string, array and sub-message one by one, and frees them
 * one by one again; from an arena each allocation is a pointer bump and
 * nothing is freed but the arena, at once.
 *
 * hp_arena_init lays the arena out at the start of `buffer` (the caller's,
 * usually on the stack, at least HP_ARENA_MINIMUM bytes, 16-byte aligned;
 * NULL otherwise) and allocates from the rest of it, then from blocks it
 * mallocs when that is used up. Its `allocator` is what protobuf-c takes; its
 * free does nothing. Use an arena on one thread only.
 * hp_arena_release frees the blocks: every pointer the arena handed out is
 * invalid after it. Each block counts as one live allocation of this thread
 * (hp_thread_live_allocations) until it is released. */
typedef struct hp_arena_block hp_arena_block;
typedef struct {
  ProtobufCAllocator allocator;
  uint8_t *cursor;
  uint8_t *end;
  hp_arena_block *blocks;
} hp_arena;

#define HP_ARENA_MINIMUM 256

hp_arena *hp_arena_init(void *buffer, size_t size);
void *hp_arena_alloc(hp_arena *arena, size_t size);
/* A message of `descriptor`'s type in the arena, initialised to its defaults. */
ProtobufCMessage *hp_arena_message_new(hp_arena *arena, const ProtobufCMessageDescriptor *descriptor);
void hp_arena_release(hp_arena *arena);

#endif
