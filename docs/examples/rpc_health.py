#!/usr/bin/env python3
"""Ask a harepost component for its health, speaking the RPC protocol of
docs/rpc.md with only the Python standard library (protobuf encoded by hand).

    python3 docs/examples/rpc_health.py run/store.sock

Prints the HealthCheckResponse fields as JSON; exits 1 if the call fails.
"""
import json
import socket
import struct
import sys


def varint(value):
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, wire_type, payload):
    key = varint(number << 3 | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload  # wire type 2


def parse(data):
    """Decodes one message into {field number: [values]} (varints and bytes)."""
    fields, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = read_varint(data, i)
        elif wire_type == 2:
            length, i = read_varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire_type == 1:
            value, i = data[i:i + 8], i + 8
        elif wire_type == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire_type)
        fields.setdefault(number, []).append(value)
    return fields


def read_varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def call(path, method, payload, call_id=1, timeout_ms=2000, metadata=None):
    envelope = field(1, 0, 1)  # kind = FRAME_KIND_REQUEST
    envelope += field(2, 0, call_id)
    envelope += field(3, 2, method.encode())
    envelope += field(4, 0, timeout_ms)
    for key, value in sorted((metadata or {}).items()):
        envelope += field(5, 2, field(1, 2, key.encode()) + field(2, 2, value.encode()))
    if payload:
        envelope += field(8, 2, payload)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_ms / 1000)
        sock.connect(path)
        sock.sendall(struct.pack(">I", len(envelope)) + envelope)
        (length,) = struct.unpack(">I", read_exactly(sock, 4))
        reply = parse(read_exactly(sock, length))
    assert reply.get(1, [0])[0] == 2, "not a response"
    assert reply.get(2, [0])[0] == call_id, "answer to another call"
    code = reply.get(6, [0])[0]
    if code != 0:
        raise RuntimeError("code %d: %s" % (code, reply.get(7, [b""])[0].decode()))
    return reply.get(8, [b""])[0]


def main():
    payload = call(sys.argv[1], "harepost.rpc.v1.Health/Check", b"", metadata={"x-request-id": "req_py"})
    health = parse(payload)
    statuses = {1: "serving", 2: "draining", 3: "not_serving"}
    print(json.dumps({
        "status": statuses.get(health.get(1, [0])[0], "unspecified"),
        "component": health.get(2, [b""])[0].decode(),
        "version": health.get(3, [b""])[0].decode(),
        "in_flight": health.get(4, [0])[0],
    }))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # report, do not trace back
        print("error: %s" % error, file=sys.stderr)
        sys.exit(1)
