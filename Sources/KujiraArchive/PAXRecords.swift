/// PAX extended header records (POSIX.1-2001, pax "Extended Header"): `"%d %s=%s\n"`, where
/// the decimal length counts the whole record including itself and the newline.
enum PAXRecords {
    /// Keys the reader interprets.
    static let path = "path", linkpath = "linkpath", size = "size", uid = "uid", gid = "gid"
    static let uname = "uname", gname = "gname", mtime = "mtime", atime = "atime"
    static let schilyXattr = "SCHILY.xattr.", libarchiveXattr = "LIBARCHIVE.xattr."

    /// Parses every record in `data`, in order. Values are raw bytes (xattr values may be
    /// binary). Throws ``ArchiveError/Code/invalidPAXRecord`` with `context` in the message.
    static func parse(_ data: [UInt8], context: String) throws -> [(key: String, value: [UInt8])] {
        func bad(_ why: String) -> ArchiveError {
            ArchiveError(.invalidPAXRecord, "invalid PAX extended header \(context): \(why); the archive is corrupt or hostile")
        }
        var records: [(key: String, value: [UInt8])] = []
        var i = 0
        let count = data.count
        while i < count {
            var j = i
            var length = 0
            while j < count, data[j] >= 0x30, data[j] <= 0x39 {
                length = length * 10 + Int(data[j] - 0x30)
                if length > count { throw bad("record length at byte \(i) exceeds the header size \(count)") }
                j += 1
            }
            guard j > i, j < count, data[j] == 0x20 else { throw bad("record at byte \(i) does not start with \"<length> \"") }
            guard length > j - i + 1, i + length <= count else {
                throw bad("record length \(length) at byte \(i) does not fit the \(count)-byte header")
            }
            let recordEnd = i + length - 1  // index of the newline
            guard data[recordEnd] == 0x0a else { throw bad("record at byte \(i) does not end with a newline") }
            let body = (j + 1)..<recordEnd
            guard let eq = data[body].firstIndex(of: 0x3d), eq > body.lowerBound else {
                throw bad("record at byte \(i) has no \"key=\" part")
            }
            let key = String(decoding: data[body.lowerBound..<eq], as: UTF8.self)
            let value = Array(data[(eq + 1)..<recordEnd])
            if [path, linkpath, uname, gname].contains(key), value.contains(0) {
                throw bad("\(key) record contains a NUL byte")
            }
            records.append((key, value))
            i += length
        }
        return records
    }

    /// Formats one record, computing the self-inclusive length as Go's formatPAXRecord does.
    static func format(key: String, value: [UInt8]) -> [UInt8] {
        let base = key.utf8.count + value.count + 3  // space, '=', newline
        var size = base + String(base).utf8.count
        if String(size).utf8.count != String(base).utf8.count { size = base + String(size).utf8.count }
        var out = Array("\(size) \(key)=".utf8)
        out.reserveCapacity(size)
        out.append(contentsOf: value)
        out.append(0x0a)
        return out
    }

    /// Parses a decimal record value as a non-negative integer up to `max`.
    static func parseDecimal(_ value: [UInt8], max: Int64) -> Int64? {
        guard !value.isEmpty, value.count <= 19 else { return nil }
        var x: Int64 = 0
        for b in value {
            let d = b &- 0x30
            guard d < 10 else { return nil }
            x = x * 10 + Int64(d)
        }
        return x <= max ? x : nil
    }

    /// Parses a PAX time, `[-]seconds[.fraction]`; digits past nanoseconds are dropped.
    static func parseTime(_ value: [UInt8]) -> TarTimestamp? {
        var bytes = value[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        let dot = bytes.firstIndex(of: UInt8(ascii: "."))
        let secondsPart = bytes[..<(dot ?? bytes.endIndex)]
        guard let seconds = parseDecimal(Array(secondsPart), max: Int64.max / 2) else { return nil }
        var nanos: Int64 = 0
        if let dot {
            let fraction = bytes[(dot + 1)...]
            guard fraction.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            var digits = 0
            for b in fraction.prefix(9) { nanos = nanos * 10 + Int64(b - 0x30); digits += 1 }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        if !negative { return TarTimestamp(seconds: seconds, nanoseconds: UInt32(nanos)) }
        if nanos == 0 { return TarTimestamp(seconds: -seconds) }
        return TarTimestamp(seconds: -seconds - 1, nanoseconds: UInt32(1_000_000_000 - nanos))
    }

    /// Formats a time as Go does: seconds, then `.` and the fraction without trailing zeros.
    static func formatTime(_ t: TarTimestamp) -> [UInt8] {
        var s: String
        if t.nanoseconds == 0 {
            s = String(t.seconds)
        } else if t.seconds >= 0 {
            s = "\(t.seconds).\(String(1_000_000_000 + UInt64(t.nanoseconds)).dropFirst())"
        } else {
            let nanos = 1_000_000_000 - UInt64(t.nanoseconds)
            s = "-\(-(t.seconds + 1)).\(String(1_000_000_000 + nanos).dropFirst())"
        }
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() } }
        return Array(s.utf8)
    }

    /// Decodes base64 (standard alphabet, padding optional), as libarchive writes
    /// `LIBARCHIVE.xattr.*` values; nil when malformed.
    static func decodeBase64(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in text {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }

    /// Decodes `%XX` escapes, as libarchive writes xattr names; nil when malformed.
    static func percentDecode(_ text: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let c = bytes.popFirst() {
            guard c == UInt8(ascii: "%") else { out.append(c); continue }
            guard bytes.count >= 2, let hi = hexValue(bytes[bytes.startIndex]),
                  let lo = hexValue(bytes[bytes.startIndex + 1]) else { return nil }
            out.append(hi << 4 | lo)
            bytes = bytes.dropFirst(2)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
