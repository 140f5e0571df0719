/// The byte layout of a 512-byte tar header block (POSIX ustar, with the GNU and star
/// variants), and the numeric field codecs that Go's archive/tar and GNU tar agree on.
enum TarLayout {
    static let blockSize = 512
    static let name = 0..<100
    static let mode = 100..<108
    static let uid = 108..<116
    static let gid = 116..<124
    static let size = 124..<136
    static let mtime = 136..<148
    static let checksum = 148..<156
    static let typeflag = 156
    static let linkname = 157..<257
    static let magic = 257..<263
    static let version = 263..<265
    static let uname = 265..<297
    static let gname = 297..<329
    static let devmajor = 329..<337
    static let devminor = 337..<345
    static let prefix = 345..<500
    /// star's shorter prefix (followed by atime/ctime, and `tar\0` at 508).
    static let starPrefix = 345..<476
    static let starTrailer = 508..<512
}

/// Numeric and string codecs for header fields.
enum TarField {
    /// Parses a numeric field: octal text (leading and trailing spaces and NULs trimmed,
    /// empty meaning 0), or GNU base-256 when the high bit of the first byte is set
    /// (the next bit is the sign). Returns nil for anything malformed or out of `Int64`.
    static func parseNumeric(_ field: UnsafeRawBufferPointer) -> Int64? {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            let inverse: UInt8 = first & 0x40 != 0 ? 0xff : 0
            var x: UInt64 = 0
            for (i, byte) in field.enumerated() {
                var c = byte ^ inverse
                if i == 0 { c &= 0x7f }
                if x >> 56 != 0 { return nil }
                x = x << 8 | UInt64(c)
            }
            if x >> 63 != 0 { return nil }
            return inverse == 0xff ? ~Int64(x) : Int64(x)
        }
        return parseOctal(field)
    }

    /// Parses trimmed octal text; nil when a byte is not an octal digit or on overflow.
    static func parseOctal(_ field: UnsafeRawBufferPointer) -> Int64? {
        var lo = 0, hi = field.count
        while lo < hi && (field[lo] == 0 || field[lo] == 0x20) { lo += 1 }
        while hi > lo && (field[hi - 1] == 0 || field[hi - 1] == 0x20) { hi -= 1 }
        var x: Int64 = 0
        for i in lo..<hi {
            let d = field[i] &- 0x30
            guard d < 8, x >> 60 == 0 else { return nil }
            x = x << 3 | Int64(d)
        }
        return x
    }

    /// The text of a NUL-terminated (or full-width) string field, as bytes.
    static func cString(_ field: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let end = field.firstIndex(of: 0) ?? field.count
        return UnsafeRawBufferPointer(rebasing: field[0..<end])
    }

    /// Whether `value` fits `width - 1` octal digits plus a NUL terminator.
    static func fitsOctal(_ value: Int64, width: Int) -> Bool {
        value >= 0 && (width - 1 >= 21 || value < Int64(1) << (3 * (width - 1)))
    }

    /// Writes `value` as zero-padded octal with a NUL terminator, like Go's formatOctal.
    static func formatOctal(_ value: Int64, into block: UnsafeMutableRawBufferPointer, _ range: Range<Int>) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: range.count - 1)
        var v = UInt64(max(value, 0))
        var i = digits.count - 1
        while v > 0 && i >= 0 {
            digits[i] = UInt8(ascii: "0") + UInt8(v & 7)
            v >>= 3
            i -= 1
        }
        for (k, d) in digits.enumerated() { block[range.lowerBound + k] = d }
        block[range.upperBound - 1] = 0
    }

    /// Writes `value` in GNU base-256 (big-endian, high bit set); for values octal cannot hold.
    static func formatBase256(_ value: Int64, into block: UnsafeMutableRawBufferPointer, _ range: Range<Int>) {
        var v = UInt64(bitPattern: value)
        for i in range.reversed() {
            block[i] = UInt8(truncatingIfNeeded: v)
            v >>= 8
        }
        block[range.lowerBound] |= 0x80
    }

    /// Copies `bytes` into a field, truncating, NUL-terminating when shorter.
    static func formatString<Bytes: Collection>(_ bytes: Bytes, into block: UnsafeMutableRawBufferPointer, _ range: Range<Int>) where Bytes.Element == UInt8 {
        var i = range.lowerBound
        for b in bytes {
            if i == range.upperBound { return }
            block[i] = b
            i += 1
        }
        if i < range.upperBound { block[i] = 0 }
    }

    /// The header checksum: the unsigned and the signed byte sums, with the checksum
    /// field itself counted as spaces. Historic tars used either; both are accepted.
    static func checksums(_ block: UnsafeRawBufferPointer) -> (unsigned: Int64, signed: Int64) {
        var unsigned: Int64 = 0, signed: Int64 = 0
        for i in 0..<TarLayout.blockSize {
            let b = TarLayout.checksum.contains(i) ? 0x20 : block[i]
            unsigned += Int64(b)
            signed += Int64(Int8(bitPattern: b))
        }
        return (unsigned, signed)
    }

    /// Whether all 512 bytes are zero (an end-of-archive block).
    static func isZeroBlock(_ block: UnsafeRawBufferPointer) -> Bool {
        var acc: UInt64 = 0
        var i = 0
        while i < TarLayout.blockSize {
            acc |= block.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        return acc == 0
    }

    /// Whether every byte is 7-bit ASCII without NUL.
    static func isASCII<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        bytes.allSatisfy { $0 != 0 && $0 < 0x80 }
    }
}
