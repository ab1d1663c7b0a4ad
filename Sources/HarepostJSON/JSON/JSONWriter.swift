/// Renders JSON compactly as UTF-8 bytes.
public enum JSONWriter {
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(value, to: &output)
        return output
    }

    public static func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    public static func write(_ value: JSONValue, to output: inout [UInt8]) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): writeInteger(value, to: &output)
        case .double(let value): writeDouble(value, to: &output)
        case .string(let value): writeString(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(element, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                writeString(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                write(member.value, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// An integer's decimal digits.
    public static func writeInteger(_ value: Int64, to output: inout [UInt8]) {
        if value >= 0, value < 10 {
            output.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for a sign and 19 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                buffer[start] = UInt8(ascii: "-")
            }
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// A number that may have a fraction: `null` when not finite (JSON has
    /// no infinities), an integer's digits when it is whole and below 10^15,
    /// Swift's shortest round-trip form otherwise.
    public static func writeDouble(_ value: Double, to output: inout [UInt8]) {
        if !value.isFinite {
            output.append(contentsOf: "null".utf8)
        } else if value == value.rounded(), abs(value) < 1e15 {
            writeInteger(Int64(value), to: &output)
        } else {
            output.append(contentsOf: "\(value)".utf8)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Runs without escapes are appended whole: most strings have none, and
    /// appending byte by byte was most of the writer's time.
    public static func writeString(_ string: String, to output: inout [UInt8]) {
        var string = string
        string.withUTF8 { writeString(utf8: $0, to: &output) }
    }

    /// A string given as its UTF-8 bytes.
    public static func writeString(utf8: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var start = 0
        for index in utf8.indices {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
            start = index + 1
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): output.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: output.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: output.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            default:
                output.append(contentsOf: [0x5c, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0xf)])
            }
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        output.append(UInt8(ascii: "\""))
    }
}
