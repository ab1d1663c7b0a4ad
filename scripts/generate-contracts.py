#!/usr/bin/env python3
"""Generates the Swift contract types (module HarepostContracts) from proto/.

    generate-contracts.py CONTRACTS.pb OUT_DIR

CONTRACTS.pb is `protoc --include_imports --include_source_info
--descriptor_set_out` of the contracts (strings still strings). OUT_DIR gets
one file per proto package: a namespace (`harepost.store.v1` is `StoreV1`)
holding a struct per message, an enum per enum and, per service, a type per
RPC method. A struct is a view over a ProtoMessage: every field is a property
that reads its slot by position (protobuf-c orders a message's fields by
number), so renaming anything in proto/ breaks the Swift that uses it at
compile time. Called by scripts/generate-protos.sh; no protobuf library is
needed.
"""
import os
import sys
from collections import defaultdict

from protowire import fields

# Field numbers in google/protobuf/descriptor.proto.
SET_FILE = 1
FILE_NAME, FILE_PACKAGE, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE, FILE_SOURCE_INFO = 1, 2, 4, 5, 6, 9
MSG_NAME, MSG_FIELD, MSG_NESTED, MSG_ENUM, MSG_OPTIONS, MSG_ONEOF = 1, 2, 3, 4, 7, 8
FIELD_NAME, FIELD_NUMBER, FIELD_LABEL, FIELD_TYPE, FIELD_TYPE_NAME, FIELD_ONEOF_INDEX = 1, 3, 4, 5, 6, 9
ENUM_NAME, ENUM_VALUE = 1, 2
VALUE_NAME, VALUE_NUMBER = 1, 2
SERVICE_NAME, SERVICE_METHOD = 1, 2
METHOD_NAME, METHOD_INPUT, METHOD_OUTPUT = 1, 2, 3
LOCATION, LOCATION_PATH, LOCATION_LEADING = 1, 1, 3
OPTIONS_MAP_ENTRY = 7
LABEL_REPEATED = 3

# Field type number: (Swift type, ProtoValue case, ProtoValue accessor).
SCALARS = {
    1: ("Double", "double", "doubleValue"),
    2: ("Float", "float", None),
    3: ("Int64", "int64", "int64Value"),
    4: ("UInt64", "uint64", None),
    5: ("Int32", "int32", None),
    6: ("UInt64", "uint64", None),
    7: ("UInt32", "uint32", None),
    8: ("Bool", "bool", "boolValue"),
    9: ("String", "string", "stringValue"),
    12: ("[UInt8]", "bytes", "bytesValue"),
    13: ("UInt32", "uint32", None),
    15: ("Int32", "int32", None),
    16: ("Int64", "int64", "int64Value"),
    17: ("Int32", "int32", None),
    18: ("Int64", "int64", "int64Value"),
}
DEFAULTS = {"Double": "0", "Float": "0", "Int64": "0", "UInt64": "0", "Int32": "0", "UInt32": "0",
            "Bool": "false", "String": '""', "[UInt8]": "[]"}
TYPE_MESSAGE, TYPE_ENUM = 11, 14

ACRONYMS = {"id": "ID", "url": "URL", "dlq": "DLQ", "api": "API", "http": "HTTP", "rpc": "RPC", "dns": "DNS"}
KEYWORDS = {"as", "break", "case", "catch", "class", "continue", "default", "defer", "do", "else", "enum",
            "extension", "fallthrough", "false", "for", "func", "guard", "if", "import", "in", "init", "inout",
            "internal", "is", "let", "nil", "operator", "private", "protocol", "public", "repeat", "return",
            "self", "Self", "static", "struct", "subscript", "super", "switch", "throw", "throws", "true", "try",
            "var", "where", "while", "Type", "Protocol"}


def one(data, number, default=None):
    for n, wire, value, _ in fields(data):
        if n == number:
            return value.decode() if wire == 2 else value
    return default


def many(data, number):
    return [value for n, wire, value, _ in fields(data) if n == number and wire == 2]


def packed(data):
    out, position = [], 0
    while position < len(data):
        result = shift = 0
        while True:
            byte = data[position]
            position += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        out.append(result)
    return out


def words(snake):
    return [w for w in snake.split("_") if w]


def lower_camel(snake):
    parts = words(snake.lower())
    head = parts[0]
    tail = "".join(ACRONYMS.get(w, w.capitalize()) for w in parts[1:])
    name = head + tail
    return f"`{name}`" if name in KEYWORDS else name


def namespace(package):
    parts = package.split(".")
    if parts[0] == "harepost":
        parts = parts[1:]
    return "".join(ACRONYMS.get(p, p.capitalize()) for p in parts)


def screaming_snake(camel):
    out = ""
    for character in camel:
        if character.isupper() and out:
            out += "_"
        out += character.upper()
    return out


def doc(comment, indent):
    if not comment:
        return ""
    lines = comment.rstrip().split("\n")
    return "".join(f"{indent}///{(' ' + line.strip()) if line.strip() else ''}\n" for line in lines)


class Contracts:
    def __init__(self, data):
        self.files = []
        self.types = {}  # ".full.name" -> (swift name, kind, map entry info)
        for raw in many(data, SET_FILE):
            self.files.append(raw)
        for raw in self.files:
            package = one(raw, FILE_PACKAGE, "")
            for message in many(raw, FILE_MESSAGE):
                self.index_message(message, package, namespace(package))
            for enum in many(raw, FILE_ENUM):
                name = one(enum, ENUM_NAME)
                self.types[f".{package}.{name}"] = (f"{namespace(package)}.{name}", "enum", None)

    def index_message(self, data, scope, swift_scope):
        name = one(data, MSG_NAME)
        full = f".{scope}.{name}"
        options = one_raw(data, MSG_OPTIONS)
        is_entry = options is not None and any(
            n == OPTIONS_MAP_ENTRY and v == 1 for n, _, v, _ in fields(options))
        entry = None
        if is_entry:
            by_number = {one(f, FIELD_NUMBER): f for f in many(data, MSG_FIELD)}
            entry = (by_number[1], by_number[2])
        self.types[full] = (f"{swift_scope}.{name}", "message", entry)
        for nested in many(data, MSG_NESTED):
            self.index_message(nested, f"{scope}.{name}", f"{swift_scope}.{name}")

    def generate(self):
        by_package = defaultdict(list)
        for raw in self.files:
            by_package[one(raw, FILE_PACKAGE, "")].append(raw)
        return {namespace(p): self.package_file(p, files) for p, files in sorted(by_package.items())}

    def package_file(self, package, files):
        space = namespace(package)
        out = ["// Generated by scripts/generate-protos.sh from proto/. Do not edit.",
               "",
               "public import HarepostProto",
               "",
               f"/// The contracts of proto package `{package}`.",
               f"public enum {space} {{}}",
               ""]
        for raw in sorted(files, key=lambda f: one(f, FILE_NAME)):
            comments = source_comments(raw)
            for index, enum in enumerate(many(raw, FILE_ENUM)):
                out += self.enum_decl(package, space, enum, comments, (5, index))
            for index, message in enumerate(many(raw, FILE_MESSAGE)):
                out += self.message_decl(package, space, message, comments, (4, index))
            for index, service in enumerate(many(raw, FILE_SERVICE)):
                out += self.service_decl(package, space, service, comments, (6, index))
        return "\n".join(out).rstrip() + "\n"

    def enum_decl(self, package, space, data, comments, path):
        name = one(data, ENUM_NAME)
        prefix = screaming_snake(name) + "_"
        values = []
        seen = set()
        for index, value in enumerate(many(data, ENUM_VALUE)):
            proto = one(value, VALUE_NAME)
            number = one(value, VALUE_NUMBER, 0)
            if number >= 1 << 31:
                number -= 1 << 64
            stripped = proto[len(prefix):] if proto.startswith(prefix) else proto
            if number in seen:
                continue
            seen.add(number)
            values.append((lower_camel(stripped), stripped.lower(), number,
                           comments.get(path + (2, index))))
        out = [f"extension {space} {{"]
        out.append(doc(comments.get(path), "    ").rstrip("\n")) if comments.get(path) else None
        out.append(f"    public enum {name}: ProtoEnumContract, CaseIterable {{")
        for case, _, _, comment in values:
            if comment:
                out.append(doc(comment, "        ").rstrip("\n"))
            out.append(f"        case {case}")
        out.append("        /// A number this build's contracts do not name.")
        out.append("        case unrecognized(Int32)")
        out.append("")
        out.append("        /// The values the contracts name.")
        out.append("        public static let allCases: [Self] = [" + ", ".join(f".{case}" for case, _, _, _ in values) + "]")
        out.append("")
        out.append("        public init(rawValue: Int32) {")
        out.append("            switch rawValue {")
        for case, _, number, _ in values:
            out.append(f"            case {number}: self = .{case}")
        out.append("            default: self = .unrecognized(rawValue)")
        out.append("            }")
        out.append("        }")
        out.append("")
        out.append("        public var rawValue: Int32 {")
        out.append("            switch self {")
        for case, _, number, _ in values:
            out.append(f"            case .{case}: {number}")
        out.append("            case .unrecognized(let number): number")
        out.append("            }")
        out.append("        }")
        out.append("")
        out.append("        public var jsonName: String {")
        out.append("            switch self {")
        for case, json, _, _ in values:
            out.append(f'            case .{case}: "{json}"')
        out.append('            case .unrecognized(let number): "\\(number)"')
        out.append("            }")
        out.append("        }")
        out.append("")
        out.append("        public init?(jsonName: String) {")
        out.append("            switch jsonName {")
        for case, json, _, _ in values:
            out.append(f'            case "{json}": self = .{case}')
        out.append("            default: return nil")
        out.append("            }")
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
        return [line for line in out if line is not None]

    def message_decl(self, package, space, data, comments, path):
        name = one(data, MSG_NAME)
        full = f"{package}.{name}"
        options = one_raw(data, MSG_OPTIONS)
        if options is not None and any(n == OPTIONS_MAP_ENTRY and v == 1 for n, _, v, _ in fields(options)):
            return []
        declared = [(i, f) for i, f in enumerate(many(data, MSG_FIELD))]
        ordered = sorted(declared, key=lambda pair: one(pair[1], FIELD_NUMBER))
        out = [f"extension {space} {{"]
        if comments.get(path):
            out.append(doc(comments.get(path), "    ").rstrip("\n"))
        out.append(f"    public struct {name}: ProtoContract {{")
        names = ", ".join(f'"{one(f, FIELD_NAME)}"' for _, f in ordered)
        out.append(f'        public static let descriptor = MessageDescriptor.contract("{full}", fields: [{names}])')
        out.append("        public var protoMessage: ProtoMessage")
        out.append("")
        out.append("        public init() { self.protoMessage = ProtoMessage(Self.descriptor) }")
        out.append("        public init(unchecked message: ProtoMessage) { self.protoMessage = message }")
        for slot, (declared_index, field) in enumerate(ordered):
            out.append("")
            comment = comments.get(path + (2, declared_index))
            if comment:
                out.append(doc(comment, "        ").rstrip("\n"))
            out += self.accessor(field, slot)
        out.append("    }")
        out.append("}")
        out.append("")
        return out

    def accessor(self, field, slot):
        name = lower_camel(one(field, FIELD_NAME))
        kind = one(field, FIELD_TYPE)
        repeated = one(field, FIELD_LABEL) == LABEL_REPEATED
        in_oneof = one(field, FIELD_ONEOF_INDEX) is not None
        type_name = one(field, FIELD_TYPE_NAME)
        indent = "        "
        if kind == TYPE_MESSAGE:
            swift, _, entry = self.types[type_name]
            if entry is not None:
                key, value = entry
                if one(key, FIELD_TYPE) == 9 and one(value, FIELD_TYPE) == 9:
                    return [f"{indent}public var {name}: [String: String] {{",
                            f"{indent}    get {{ protoMessage.stringMap(at: {slot}) }}",
                            f"{indent}    set {{ protoMessage.set(at: {slot}, stringMap: newValue) }}",
                            f"{indent}}}"]
                return [f"{indent}// A map of messages: read it through `protoMessage` (slot {slot})."]
            if repeated:
                return [f"{indent}public var {name}: [{swift}] {{",
                        f"{indent}    get {{ protoMessage.values(at: {slot}).compactMap {{ $0.messageValue.map({swift}.init(unchecked:)) }} }}",
                        f"{indent}    set {{ protoMessage.set(at: {slot}, values: newValue.map {{ .message($0.protoMessage) }}) }}",
                        f"{indent}}}"]
            return [f"{indent}public var {name}: {swift}? {{",
                    f"{indent}    get {{ protoMessage.value(at: {slot})?.messageValue.map({swift}.init(unchecked:)) }}",
                    f"{indent}    set {{ protoMessage.set(at: {slot}, newValue.map {{ .message($0.protoMessage) }}) }}",
                    f"{indent}}}"]
        if kind == TYPE_ENUM:
            swift = self.types[type_name][0]
            if repeated:
                return [f"{indent}public var {name}: [{swift}] {{",
                        f"{indent}    get {{ protoMessage.values(at: {slot}).compactMap {{ $0.enumNumber.map({swift}.init(rawValue:)) }} }}",
                        f"{indent}    set {{ protoMessage.set(at: {slot}, values: newValue.map {{ .enumValue($0.rawValue) }}) }}",
                        f"{indent}}}"]
            if in_oneof:
                return [f"{indent}public var {name}: {swift}? {{",
                        f"{indent}    get {{ protoMessage.value(at: {slot})?.enumNumber.map({swift}.init(rawValue:)) }}",
                        f"{indent}    set {{ protoMessage.set(at: {slot}, newValue.map {{ .enumValue($0.rawValue) }}) }}",
                        f"{indent}}}"]
            return [f"{indent}public var {name}: {swift} {{",
                    f"{indent}    get {{ {swift}(rawValue: protoMessage.value(at: {slot})?.enumNumber ?? 0) }}",
                    f"{indent}    set {{ protoMessage.set(at: {slot}, .enumValue(newValue.rawValue)) }}",
                    f"{indent}}}"]
        swift, case, _ = SCALARS[kind]
        read = f"if case .{case}(let value) = $0 {{ value }} else {{ nil }}"
        if repeated:
            return [f"{indent}public var {name}: [{swift}] {{",
                    f"{indent}    get {{ protoMessage.values(at: {slot}).compactMap {{ {read} }} }}",
                    f"{indent}    set {{ protoMessage.set(at: {slot}, values: newValue.map {{ .{case}($0) }}) }}",
                    f"{indent}}}"]
        getter = f"protoMessage.value(at: {slot}).flatMap {{ {read} }}"
        if in_oneof:
            return [f"{indent}public var {name}: {swift}? {{",
                    f"{indent}    get {{ {getter} }}",
                    f"{indent}    set {{ protoMessage.set(at: {slot}, newValue.map {{ .{case}($0) }}) }}",
                    f"{indent}}}"]
        return [f"{indent}public var {name}: {swift} {{",
                f"{indent}    get {{ {getter} ?? {DEFAULTS[swift]} }}",
                f"{indent}    set {{ protoMessage.set(at: {slot}, .{case}(newValue)) }}",
                f"{indent}}}"]

    def service_decl(self, package, space, data, comments, path):
        name = one(data, SERVICE_NAME)
        out = [f"extension {space} {{"]
        if comments.get(path):
            out.append(doc(comments.get(path), "    ").rstrip("\n"))
        out.append(f"    /// The methods of `{package}.{name}`.")
        out.append(f"    public enum {name} {{")
        for index, method in enumerate(many(data, SERVICE_METHOD)):
            method_name = one(method, METHOD_NAME)
            comment = comments.get(path + (2, index))
            if comment:
                out.append(doc(comment, "        ").rstrip("\n"))
            out.append(f"        public enum {method_name}: RPCMethodContract {{")
            out.append(f"            public typealias Input = {self.types[one(method, METHOD_INPUT)][0]}")
            out.append(f"            public typealias Output = {self.types[one(method, METHOD_OUTPUT)][0]}")
            out.append(f'            public static let path = "{package}.{name}/{method_name}"')
            out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
        return out


def one_raw(data, number):
    for n, wire, value, _ in fields(data):
        if n == number and wire == 2:
            return value
    return None


def source_comments(raw):
    info = one_raw(raw, FILE_SOURCE_INFO)
    result = {}
    if info is None:
        return result
    for location in many(info, LOCATION):
        path = tuple(packed(one_raw(location, LOCATION_PATH) or b""))
        leading = one(location, LOCATION_LEADING)
        if leading:
            result[path] = leading
    return result


def main():
    source, out_dir = sys.argv[1:3]
    contracts = Contracts(open(source, "rb").read())
    os.makedirs(out_dir, exist_ok=True)
    for space, text in contracts.generate().items():
        with open(os.path.join(out_dir, f"{space}.generated.swift"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
