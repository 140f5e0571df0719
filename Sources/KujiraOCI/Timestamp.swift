/// A point in time as OCI and Docker documents write it: an RFC 3339 string
/// (`2024-01-02T03:04:05.123456789Z`), as produced by Go's `time.RFC3339Nano`.
///
/// Image configs (image-spec config.md, `created` and `history[].created`) and runc's
/// `state` output (`created`) carry such strings. Kujira keeps the original string in those
/// documents, so that re-encoding a document it created gives the same bytes; this type is
/// the parsed view, with nanosecond precision and no Foundation dependency.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    public let secondsSinceEpoch: Int64
    /// Nanoseconds past ``secondsSinceEpoch``, `0..<1_000_000_000`.
    public let nanoseconds: Int32

    /// Creates a timestamp from seconds since the Unix epoch and nanoseconds past them.
    /// Nanoseconds outside `0..<1_000_000_000` carry into the seconds.
    public init(secondsSinceEpoch: Int64, nanoseconds: Int64 = 0) {
        let carry = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        self.secondsSinceEpoch = secondsSinceEpoch + carry
        self.nanoseconds = Int32(nanoseconds - carry * 1_000_000_000)
    }

    /// Parses an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of up to
    /// nine digits, then `Z` or a `±HH:MM` offset. `t` and `z` are accepted in lower case.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/invalidTimestamp``.
    public init(parsing string: String) throws {
        let bytes = Array(string.utf8)
        func fail(_ why: String) -> OCIError {
            OCIError(.invalidTimestamp, "invalid timestamp \"\(string)\": \(why) (expected RFC 3339, e.g. 2024-01-02T03:04:05Z)")
        }
        var position = 0
        func number(_ digits: Int) throws -> Int64 {
            guard position + digits <= bytes.count else { throw fail("too short") }
            var value: Int64 = 0
            for byte in bytes[position..<(position + digits)] {
                guard byte >= 0x30, byte <= 0x39 else { throw fail("expected a digit at offset \(position)") }
                value = value * 10 + Int64(byte - 0x30)
            }
            position += digits
            return value
        }
        func expect(_ characters: String) throws {
            guard position < bytes.count, characters.utf8.contains(bytes[position]) else {
                throw fail("expected \"\(characters.prefix(1))\" at offset \(position)")
            }
            position += 1
        }
        let year = try number(4)
        try expect("-")
        let month = try number(2)
        try expect("-")
        let day = try number(2)
        try expect("Tt")
        let hour = try number(2)
        try expect(":")
        let minute = try number(2)
        try expect(":")
        let second = try number(2)
        guard (1...12).contains(month) else { throw fail("month out of range") }
        guard day >= 1, day <= Timestamp.daysInMonth(year: year, month: month) else { throw fail("day out of range") }
        guard hour < 24, minute < 60, second < 60 else { throw fail("time of day out of range") }
        var nanos: Int64 = 0
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            var digits = 0
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
                guard digits < 9 else { throw fail("more than nine fractional digits") }
                nanos = nanos * 10 + Int64(bytes[position] - 0x30)
                digits += 1
                position += 1
            }
            guard digits > 0 else { throw fail("empty fraction") }
            for _ in digits..<9 { nanos *= 10 }
        }
        var offsetSeconds: Int64 = 0
        guard position < bytes.count else { throw fail("missing time zone (Z or ±HH:MM)") }
        switch bytes[position] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            position += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = bytes[position] == UInt8(ascii: "-") ? -1 : 1
            position += 1
            let offsetHours = try number(2)
            try expect(":")
            let offsetMinutes = try number(2)
            guard offsetHours < 24, offsetMinutes < 60 else { throw fail("time zone offset out of range") }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        default:
            throw fail("missing time zone (Z or ±HH:MM)")
        }
        guard position == bytes.count else { throw fail("trailing characters") }
        let days = Timestamp.daysFromCivil(year: year, month: month, day: day)
        self.init(
            secondsSinceEpoch: days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds,
            nanoseconds: nanos)
    }

    /// The timestamp in UTC as Go's `time.RFC3339Nano` writes it: trailing zeros of the
    /// fraction dropped, no fraction for whole seconds, `Z` for the zone.
    public var rfc3339: String {
        let days = secondsSinceEpoch >= 0 ? secondsSinceEpoch / 86_400 : (secondsSinceEpoch - 86_399) / 86_400
        let secondOfDay = secondsSinceEpoch - days * 86_400
        let (year, month, day) = Timestamp.civilFromDays(days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        text += "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if nanoseconds > 0 {
            var fraction = pad(Int64(nanoseconds), 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// The same as ``rfc3339``.
    public var description: String { rfc3339 }

    /// Orders timestamps in time.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.secondsSinceEpoch, lhs.nanoseconds) < (rhs.secondsSinceEpoch, rhs.nanoseconds)
    }

    // Howard Hinnant's civil-calendar algorithms (proleptic Gregorian calendar).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
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

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
