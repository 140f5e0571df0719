// The small pieces of Go's text handling that BuildKit's parser relies on, so that Kujira
// splits, trims and quotes exactly where BuildKit does: `unicode.IsSpace`,
// `strings.TrimSpace`, the `[\t\v\f\r ]+` splitter and `strconv.Quote`.

enum GoText {
    /// Go's `unicode.IsSpace`.
    @inline(__always)
    static func isSpace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x20, 0x85, 0xA0: return true
        case 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `unicode.IsSpace(rune(b))` on a single byte, as BuildKit's flag splitter and
    /// HEALTHCHECK parser do (they index bytes, not runes).
    @inline(__always)
    static func isSpaceByte(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x09 && b <= 0x0D) || b == 0x85 || b == 0xA0
    }

    /// The whitespace class `[\t\v\f\r ]` of BuildKit's `reWhitespace`.
    @inline(__always)
    static func isRegexSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0B || b == 0x0C || b == 0x0D
    }

    /// Decodes the scalar starting at `i` in `bytes`; returns the scalar value and its length.
    /// Invalid sequences decode as U+FFFD with length 1, as Go's `utf8.DecodeRune` does.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = bytes[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        let n = bytes.count
        if b0 & 0xE0 == 0xC0, i + 1 < n, bytes[i + 1] & 0xC0 == 0x80 {
            let v = UInt32(b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
            return v >= 0x80 ? (v, 2) : (0xFFFD, 1)
        }
        if b0 & 0xF0 == 0xE0, i + 2 < n, bytes[i + 1] & 0xC0 == 0x80, bytes[i + 2] & 0xC0 == 0x80 {
            let v = UInt32(b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)
            return v >= 0x800 && !(0xD800...0xDFFF).contains(v) ? (v, 3) : (0xFFFD, 1)
        }
        if b0 & 0xF8 == 0xF0, i + 3 < n, bytes[i + 1] & 0xC0 == 0x80, bytes[i + 2] & 0xC0 == 0x80,
           bytes[i + 3] & 0xC0 == 0x80 {
            let v = UInt32(b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
            return v >= 0x10000 && v <= 0x10FFFF ? (v, 4) : (0xFFFD, 1)
        }
        return (0xFFFD, 1)
    }

    /// Index of the first byte that does not start a Go whitespace rune.
    static func skipSpace(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var i = start
        while i < end {
            let b = bytes[i]
            if b < 0x80 {
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) { i += 1; continue }
                return i
            }
            let (v, len) = decode(bytes, i)
            if isSpace(v) { i += len } else { return i }
        }
        return i
    }

    /// End index after trimming trailing Go whitespace runes from `bytes[start..<end]`.
    static func trimTrailingSpace(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var e = end
        while e > start {
            let b = bytes[e - 1]
            if b < 0x80 {
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) { e -= 1; continue }
                return e
            }
            // Walk back to the start of the multi-byte rune.
            var s = e - 1
            while s > start && bytes[s] & 0xC0 == 0x80 && e - s < 4 { s -= 1 }
            let (v, len) = decode(bytes, s)
            if s + len == e && isSpace(v) { e = s } else { return e }
        }
        return e
    }

    /// Go's `strings.TrimSpace`.
    static func trimSpace(_ s: String) -> String {
        var s = s
        return s.withUTF8 { buf in
            let a = skipSpace(buf, from: 0, to: buf.count)
            let b = trimTrailingSpace(buf, from: a, to: buf.count)
            if a == 0 && b == buf.count { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: buf[a..<b]), as: UTF8.self)
        } ?? s
    }

    /// Whether `s` contains a Go whitespace rune.
    static func containsSpace(_ s: String) -> Bool {
        s.unicodeScalars.contains { isSpace($0.value) }
    }

    /// Go's `strconv.Quote`: double quotes, Go escapes, non-printable runes as `\x`, `\u`, `\U`.
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            appendQuoted(scalar, to: &out)
        }
        out.append("\"")
        return out
    }

    private static let hex: [Character] = Array("0123456789abcdef")

    private static func appendQuoted(_ scalar: Unicode.Scalar, to out: inout String) {
        let v = scalar.value
        switch v {
        case 0x07: out += "\\a"
        case 0x08: out += "\\b"
        case 0x0C: out += "\\f"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case 0x0B: out += "\\v"
        case 0x5C: out += "\\\\"
        case 0x22: out += "\\\""
        default:
            if v >= 0x20 && v < 0x7F {
                out.unicodeScalars.append(scalar)
            } else if v < 0x80 {
                out += "\\x"
                out.append(hex[Int(v >> 4)])
                out.append(hex[Int(v & 0xF)])
            } else if isPrint(scalar) {
                out.unicodeScalars.append(scalar)
            } else if v == 0xFFFD {
                out.unicodeScalars.append(scalar)
            } else if v < 0x10000 {
                out += "\\u"
                for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int((v >> UInt32(shift)) & 0xF)]) }
            } else {
                out += "\\U"
                for shift in stride(from: 28, through: 0, by: -4) { out.append(hex[Int((v >> UInt32(shift)) & 0xF)]) }
            }
        }
    }

    /// Go's `unicode.IsPrint` for non-ASCII: letters, marks, numbers, punctuation, symbols.
    private static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    /// Go's `%q` of a `[]string`: `["a" "b"]`.
    static func quoteList(_ items: [String]) -> String {
        "[" + items.map(quote).joined(separator: " ") + "]"
    }
}

extension String {
    /// Builds a string from a byte range of a buffer.
    @inline(__always)
    init(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        self = start >= end ? "" : String(decoding: UnsafeBufferPointer(rebasing: buf[start..<end]), as: UTF8.self)
    }
}
