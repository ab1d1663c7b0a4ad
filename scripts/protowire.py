"""The protobuf wire format, as much as the generator scripts need to read and
rewrite a FileDescriptorSet without a protobuf library."""


def read_varint(data, position):
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fields(data):
    """(number, wire type, value, raw bytes of the whole field), in order."""
    position = 0
    while position < len(data):
        start = position
        key, position = read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = read_varint(data, position)
        elif wire == 1:
            value, position = data[position:position + 8], position + 8
        elif wire == 2:
            length, position = read_varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire == 5:
            value, position = data[position:position + 4], position + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value, data[start:position]


def length_delimited(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload
