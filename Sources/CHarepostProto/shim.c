#include "CHarepostProto.h"

/* The Swift layer reads and writes message fields through descriptor offsets.
 * These are the layouts it relies on. */
_Static_assert(sizeof(protobuf_c_boolean) == sizeof(int32_t), "bool fields are 32-bit ints");
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "repeated counts are 64-bit size_t");
_Static_assert(sizeof(void *) == sizeof(uint64_t), "64-bit pointers");
_Static_assert(sizeof(ProtobufCBinaryData) == 2 * sizeof(void *), "bytes = {size_t len; uint8_t *data}");
_Static_assert(offsetof(ProtobufCBinaryData, len) == 0, "bytes length first");
_Static_assert(offsetof(ProtobufCBinaryData, data) == sizeof(size_t), "bytes data second");
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats");

/* Arena blocks malloc'd on this thread minus those freed on it. */
static _Thread_local int64_t live_allocations;

int64_t hp_thread_live_allocations(void) {
  return live_allocations;
}

/* Every arena allocation is aligned for any protobuf-c field type. */
#define ARENA_ALIGNMENT 16
#define ARENA_BLOCK_SIZE 4096

struct hp_arena_block {
  hp_arena_block *next;
  /* Keeps the data after the header aligned. */
  _Alignas(ARENA_ALIGNMENT) uint8_t data[];
};

_Static_assert(sizeof(hp_arena) <= HP_ARENA_MINIMUM / 2, "an arena's header leaves room in the minimum buffer");

static size_t aligned(size_t size) {
  return (size + (ARENA_ALIGNMENT - 1)) & ~(size_t)(ARENA_ALIGNMENT - 1);
}

static void *arena_allocate(void *allocator_data, size_t size) {
  return hp_arena_alloc(allocator_data, size);
}

static void arena_free(void *allocator_data, void *pointer) {
  (void)allocator_data;
  (void)pointer;
}

hp_arena *hp_arena_init(void *buffer, size_t size) {
  if (buffer == NULL || size < HP_ARENA_MINIMUM || ((uintptr_t)buffer % ARENA_ALIGNMENT) != 0) {
    return NULL;
  }
  hp_arena *arena = buffer;
  size_t header = aligned(sizeof(hp_arena));
  arena->allocator = (ProtobufCAllocator){arena_allocate, arena_free, arena};
  arena->cursor = (uint8_t *)buffer + header;
  arena->end = (uint8_t *)buffer + size;
  arena->blocks = NULL;
  return arena;
}

void *hp_arena_alloc(hp_arena *arena, size_t size) {
  if (size > SIZE_MAX / 2) {
    return NULL; /* no such message fits in memory; and the sums below stay exact */
  }
  size_t needed = aligned(size == 0 ? 1 : size);
  if (needed > (size_t)(arena->end - arena->cursor)) {
    size_t capacity = needed > ARENA_BLOCK_SIZE ? needed : ARENA_BLOCK_SIZE;
    hp_arena_block *block = malloc(sizeof(hp_arena_block) + capacity);
    if (block == NULL) {
      return NULL;
    }
    live_allocations++;
    block->next = arena->blocks;
    arena->blocks = block;
    arena->cursor = block->data;
    arena->end = block->data + capacity;
  }
  void *pointer = arena->cursor;
  arena->cursor += needed;
  return pointer;
}

ProtobufCMessage *hp_arena_message_new(hp_arena *arena, const ProtobufCMessageDescriptor *descriptor) {
  ProtobufCMessage *message = hp_arena_alloc(arena, descriptor->sizeof_message);
  if (message == NULL) {
    return NULL;
  }
  descriptor->message_init(message);
  return message;
}

void hp_arena_release(hp_arena *arena) {
  hp_arena_block *block = arena->blocks;
  while (block != NULL) {
    hp_arena_block *next = block->next;
    free(block);
    live_allocations--;
    block = next;
  }
  arena->blocks = NULL;
}
