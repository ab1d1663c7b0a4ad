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

static _Thread_local int64_t live_allocations;

static void *allocate(void *allocator_data, size_t size) {
  (void)allocator_data;
  void *pointer = malloc(size);
  if (pointer != NULL) {
    live_allocations++;
  }
  return pointer;
}

static void deallocate(void *allocator_data, void *pointer) {
  (void)allocator_data;
  if (pointer != NULL) {
    live_allocations--;
    free(pointer);
  }
}

static ProtobufCAllocator allocator = {allocate, deallocate, NULL};

ProtobufCAllocator *hp_allocator(void) {
  return &allocator;
}

void *hp_malloc(size_t size) {
  return allocate(NULL, size);
}

char *hp_strdup(const char *string) {
  size_t size = strlen(string) + 1;
  char *copy = allocate(NULL, size);
  if (copy != NULL) {
    memcpy(copy, string, size);
  }
  return copy;
}

int64_t hp_thread_live_allocations(void) {
  return live_allocations;
}

ProtobufCMessage *hp_message_new(const ProtobufCMessageDescriptor *descriptor) {
  ProtobufCMessage *message = hp_malloc(descriptor->sizeof_message);
  if (message == NULL) {
    return NULL;
  }
  descriptor->message_init(message);
  return message;
}
