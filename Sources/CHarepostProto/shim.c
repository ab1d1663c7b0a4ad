#include "CHarepostProto.h"

#include <malloc.h>

/* The Swift layer reads and writes message fields through descriptor offsets.
 * These are the layouts it relies on. */
_Static_assert(sizeof(protobuf_c_boolean) == sizeof(int32_t), "bool fields are 32-bit ints");
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "repeated counts are 64-bit size_t");
_Static_assert(sizeof(void *) == sizeof(uint64_t), "64-bit pointers");
_Static_assert(sizeof(ProtobufCBinaryData) == 2 * sizeof(void *), "bytes = {size_t len; uint8_t *data}");
_Static_assert(offsetof(ProtobufCBinaryData, len) == 0, "bytes length first");
_Static_assert(offsetof(ProtobufCBinaryData, data) == sizeof(size_t), "bytes data second");
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats");

ProtobufCMessage *hp_message_new(const ProtobufCMessageDescriptor *descriptor) {
  ProtobufCMessage *message = malloc(descriptor->sizeof_message);
  if (message == NULL) {
    return NULL;
  }
  descriptor->message_init(message);
  return message;
}

const char *hp_empty_string(void) {
  return protobuf_c_empty_string;
}

size_t hp_heap_bytes_in_use(void) {
  return mallinfo2().uordblks;
}
