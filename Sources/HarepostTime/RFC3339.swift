/// RFC 3339 timestamps in UTC (`2026-06-10T14:22:10Z`), without Foundation
/// formatters: civil-date arithmetic from Howard Hinnant's `days_from_civil`.
public enum RFC3339 {
    /// Renders seconds since the Unix epoch; fractional digits (3, 6 or 9) appear
    /// only when `nanos` is not zero.
    public static func format(seconds: Int64, nanos: Int32 = 0) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        let fraction: (value: Int64, digits: Int)? =
            if nanos <= 0 || nanos >= 1_000_000_000 {
                nil
            } else if nanos % 1_000_000 == 0 {
                (Int64(nanos / 1_000_000), 3)
            } else if nanos % 1000 == 0 {
                (Int64(nanos / 1000), 6)
            } else {
                (Int64(nanos), 9)
            }
        guard (0...9999).contains(year) else {
            // Outside four-digit years (not a valid protobuf Timestamp): the slow path.
            var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
            text += "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":"
            text += pad(secondOfDay % 60, 2)
            if let fraction { text += "." + pad(fraction.value, fraction.digits) }
            return text + "Z"
        }
        // Written byte by byte: this runs for every timestamp of every
        // response, where padded strings would allocate for each part.
        let count = 20 + (fraction.map { $0.digits + 1 } ?? 0)
        return String(unsafeUninitializedCapacity: count) { buffer in
            var index = 0
            func digits(_ value: Int64, _ width: Int) {
                var value = value
                for position in stride(from: index + width - 1, through: index, by: -1) {
                    buffer[position] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                }
                index += width
            }
            func byte(_ character: Unicode.Scalar) {
                buffer[index] = UInt8(ascii: character)
                index += 1
            }
            digits(year, 4)
            byte("-")
            digits(month, 2)
            byte("-")
            digits(day, 2)
            byte("T")
            digits(secondOfDay / 3600, 2)
            byte(":")
            digits(secondOfDay / 60 % 60, 2)
            byte(":")
            digits(secondOfDay % 60, 2)
            if let fraction {
                byte(".")
                digits(fraction.value, fraction.digits)
            }
            byte("Z")
            return index
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `nil` when malformed.
    public static func parse(_ text: String) -> (seconds: Int64, nanos: Int32)? {
        let chars = Array(text.utf8)
        var index = 0
        func number(_ count: Int) -> Int64? {
            guard index + count <= chars.count else { return nil }
            var value: Int64 = 0
            for byte in chars[index..<index + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            index += count
            return value
        }
        func literal(_ options: String) -> Bool {
            guard index < chars.count, options.utf8.contains(chars[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), literal("-"), let month = number(2), literal("-"), let day = number(2),
            literal("Tt "), let hour = number(2), literal(":"), let minute = number(2), literal(":"),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var nanos: Int64 = 0
        if literal(".") {
            var digits = 0
            while index < chars.count, (48...57).contains(chars[index]) {
                if digits < 9 { nanos = nanos * 10 + Int64(chars[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 where digits < 9 { nanos *= 10 }
        }
        var offset: Int64 = 0
        if literal("Zz") {
        } else if index < chars.count, chars[index] == UInt8(ascii: "+") || chars[index] == UInt8(ascii: "-") {
            let sign: Int64 = chars[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = number(2), literal(":"), let offsetMinutes = number(2), offsetHours < 24,
                offsetMinutes < 60
            else { return nil }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == chars.count else { return nil }
        let seconds = days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return (seconds, Int32(nanos))
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Seconds since the Unix epoch of a UTC calendar time (no validation).
    public static func unixSeconds(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64)
        -> Int64
    {
        days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
