#!/usr/bin/env python3
"""Rewrites a FileDescriptorSet so that protoc-c carries strings with their length.

protobuf-c stores a `string` field as a NUL-terminated `char *` and packs it
with strlen, so a string holding U+0000 would be cut there. `bytes` fields are
`ProtobufCBinaryData` (pointer and length) and share the wire form of
`string`, so the C code is generated from a copy of the contracts in which
every string field is bytes. Map entries with a string key become plain
nested messages (a map key cannot be bytes), which is how protoc-c lays a map
out anyway.

    proto-strings-as-bytes.py IN.pb OUT.pb STRING_FIELDS.txt

IN.pb is `protoc --include_imports --descriptor_set_out` of the contracts;
OUT.pb is what protoc-c compiles; STRING_FIELDS.txt lists each field that was
a string ("<message full name> <field number>", sorted), from which the
registry tells the Swift layer which bytes fields are text.

Only the few descriptor fields involved are decoded; everything else is
copied through byte for byte. No protobuf library is needed.
"""
import sys

from protowire import fields, length_delimited, varint

# Field numbers in google/protobuf/descriptor.proto.
FILE_SET_FILE = 1
FILE_PACKAGE, FILE_MESSAGE_TYPE = 2, 4
MESSAGE_NAME, MESSAGE_FIELD, MESSAGE_NESTED_TYPE, MESSAGE_OPTIONS = 1, 2, 3, 7
FIELD_NUMBER, FIELD_TYPE = 3, 5
OPTIONS_MAP_ENTRY = 7
TYPE_STRING, TYPE_BYTES = 9, 12


def rewrite_field(data, message_name, strings):
    out = bytearray()
    number = None
    is_string = False
    for field_number, wire, value, raw in fields(data):
        if field_number == FIELD_NUMBER and wire == 0:
            number = value
        if field_number == FIELD_TYPE and wire == 0 and value == TYPE_STRING:
            is_string = True
            out += varint(FIELD_TYPE << 3) + varint(TYPE_BYTES)
        else:
            out += raw
    if is_string:
        strings.append((message_name, number))
    return bytes(out)


def is_map_entry(options):
    return any(n == OPTIONS_MAP_ENTRY and w == 0 and v == 1 for n, w, v, _ in fields(options))


def rewrite_message(data, scope, strings):
    name = next(v.decode() for n, w, v, _ in fields(data) if n == MESSAGE_NAME and w == 2)
    full_name = f"{scope}.{name}" if scope else name
    out = bytearray()
    for number, wire, value, raw in fields(data):
        if number == MESSAGE_FIELD and wire == 2:
            out += length_delimited(MESSAGE_FIELD, rewrite_field(value, full_name, strings))
        elif number == MESSAGE_NESTED_TYPE and wire == 2:
            out += length_delimited(MESSAGE_NESTED_TYPE, rewrite_message(value, full_name, strings))
        elif number == MESSAGE_OPTIONS and wire == 2 and is_map_entry(value):
            # A map entry's key may not be bytes: the entry becomes a plain
            # nested message (the wire form of a map is exactly that).
            kept = b"".join(r for n, w, v, r in fields(value) if n != OPTIONS_MAP_ENTRY)
            if kept:
                out += length_delimited(MESSAGE_OPTIONS, kept)
        else:
            out += raw
    return bytes(out)


def rewrite_file(data, strings):
    package = next((v.decode() for n, w, v, _ in fields(data) if n == FILE_PACKAGE and w == 2), "")
    out = bytearray()
    for number, wire, value, raw in fields(data):
        if number == FILE_MESSAGE_TYPE and wire == 2:
            out += length_delimited(FILE_MESSAGE_TYPE, rewrite_message(value, package, strings))
        else:
            out += raw
    return bytes(out)


def main():
    source, target, listing = sys.argv[1:4]
    data = open(source, "rb").read()
    strings = []
    out = bytearray()
    for number, wire, value, raw in fields(data):
        if number == FILE_SET_FILE and wire == 2:
            out += length_delimited(FILE_SET_FILE, rewrite_file(value, strings))
        else:
            out += raw
    open(target, "wb").write(bytes(out))
    with open(listing, "w") as f:
        for message, number in sorted(strings):
            f.write(f"{message} {number}\n")


if __name__ == "__main__":
    main()
