// Exec form: a JSON array of strings, read as Go's `encoding/json` reads it into `[]any`.
// Invalid JSON is not an error (the instruction falls back to shell form); a valid array
// with a non-string element (a number, a nested array, …) is.

enum JSONStringArray {
    enum Result {
        case notJSON
        case notStrings
        case strings([String])
    }

    /// Go's scanner refuses nesting deeper than this.
    static let maxDepth = 10_000

    /// Parses `buf[from...]`, which starts with `[`, as one complete JSON value.
    static func parse(_ buf: UnsafeBufferPointer<UInt8>, from: Int) -> Result {
        var p = Parser(buf: buf, pos: from)
        var strings: [String] = []
        var allStrings = true
        // Top level: an array whose elements are read here; nested values are validated only.
        p.pos += 1
        p.skipWS()
        if p.peek == UInt8(ascii: "]") {
            p.pos += 1
        } else {
            while true {
                p.skipWS()
                if p.peek == UInt8(ascii: "\"") {
                    guard let s = p.string() else { return .notJSON }
                    strings.append(s)
                } else {
                    guard p.value() else { return .notJSON }
                    allStrings = false
                }
                p.skipWS()
                if p.peek == UInt8(ascii: ",") { p.pos += 1; continue }
                if p.peek == UInt8(ascii: "]") { p.pos += 1; break }
                return .notJSON
            }
        }
        p.skipWS()
        guard p.pos == buf.count else { return .notJSON }
        return allStrings ? .strings(strings) : .notStrings
    }

    struct Parser {
        let buf: UnsafeBufferPointer<UInt8>
        var pos: Int

        var peek: UInt8 { pos < buf.count ? buf[pos] : 0 }

        mutating func skipWS() {
            while pos < buf.count {
                let b = buf[pos]
                if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { pos += 1 } else { return }
            }
        }

        /// Validates one value of any kind without recursion (so hostile nesting cannot
        /// exhaust the stack). Go's limit on depth applies.
        mutating func value() -> Bool {
            var stack: [UInt8] = []  // `]` or `}` expected
            var expectValue = true
            while true {
                skipWS()
                if expectValue {
                    let b = peek
                    switch b {
                    case UInt8(ascii: "["):
                        pos += 1
                        stack.append(UInt8(ascii: "]"))
                        if stack.count > JSONStringArray.maxDepth - 1 { return false }
                        skipWS()
                        if peek == UInt8(ascii: "]") { pos += 1; stack.removeLast(); expectValue = false; break }
                        continue
                    case UInt8(ascii: "{"):
                        pos += 1
                        stack.append(UInt8(ascii: "}"))
                        if stack.count > JSONStringArray.maxDepth - 1 { return false }
                        skipWS()
                        if peek == UInt8(ascii: "}") { pos += 1; stack.removeLast(); expectValue = false; break }
                        guard peek == UInt8(ascii: "\""), string() != nil else { return false }
                        skipWS()
                        guard peek == UInt8(ascii: ":") else { return false }
                        pos += 1
                        continue
                    case UInt8(ascii: "\""):
                        guard string() != nil else { return false }
                    case UInt8(ascii: "t"): guard literal("true") else { return false }
                    case UInt8(ascii: "f"): guard literal("false") else { return false }
                    case UInt8(ascii: "n"): guard literal("null") else { return false }
                    default:
                        guard number() else { return false }
                    }
                    expectValue = false
                }
                // After a value.
                guard let close = stack.last else { return true }
                skipWS()
                if peek == UInt8(ascii: ",") {
                    pos += 1
                    if close == UInt8(ascii: "}") {
                        skipWS()
                        guard peek == UInt8(ascii: "\""), string() != nil else { return false }
                        skipWS()
                        guard peek == UInt8(ascii: ":") else { return false }
                        pos += 1
                    }
                    expectValue = true
                    continue
                }
                guard peek == close else { return false }
                pos += 1
                stack.removeLast()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard pos + n <= buf.count else { return false }
            let w = word.utf8Start
            for i in 0..<n where buf[pos + i] != w[i] { return false }
            pos += n
            return true
        }

        /// A JSON number; values that overflow a double are refused, as Go's decoder refuses
        /// them for `any`.
        mutating func number() -> Bool {
            let start = pos
            if peek == UInt8(ascii: "-") { pos += 1 }
            guard pos < buf.count else { return false }
            if peek == UInt8(ascii: "0") {
                pos += 1
            } else if peek >= 0x31 && peek <= 0x39 {
                while pos < buf.count, buf[pos] >= 0x30 && buf[pos] <= 0x39 { pos += 1 }
            } else {
                return false
            }
            if peek == UInt8(ascii: ".") {
                pos += 1
                guard peek >= 0x30 && peek <= 0x39 else { return false }
                while pos < buf.count, buf[pos] >= 0x30 && buf[pos] <= 0x39 { pos += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                pos += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { pos += 1 }
                guard peek >= 0x30 && peek <= 0x39 else { return false }
                while pos < buf.count, buf[pos] >= 0x30 && buf[pos] <= 0x39 { pos += 1 }
            }
            let text = String(buf, start, pos)
            guard let d = Double(text), d.isFinite else { return false }
            return true
        }

        /// A JSON string (the opening quote at `pos`), decoded.
        mutating func string() -> String? {
            pos += 1
            var out: [UInt8] = []
            var runStart = pos
            while pos < buf.count {
                let b = buf[pos]
                if b == UInt8(ascii: "\"") {
                    if out.isEmpty { let s = String(buf, runStart, pos); pos += 1; return s }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<pos]))
                    pos += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if b < 0x20 { return nil }
                if b != UInt8(ascii: "\\") { pos += 1; continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<pos]))
                pos += 1
                guard pos < buf.count else { return nil }
                let e = buf[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var v = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(v) {
                        // A surrogate pair, or U+FFFD when the low half is missing.
                        let save = pos
                        if peek == UInt8(ascii: "\\"), pos + 1 < buf.count, buf[pos + 1] == UInt8(ascii: "u") {
                            pos += 2
                            if let lo = hex4(), (0xDC00..<0xE000).contains(lo) {
                                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                pos = save
                                v = 0xFFFD
                            }
                        } else {
                            v = 0xFFFD
                        }
                    } else if (0xDC00..<0xE000).contains(v) {
                        v = 0xFFFD
                    }
                    let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                    out.append(contentsOf: String(scalar).utf8)
                default:
                    return nil
                }
                runStart = pos
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard pos + 4 <= buf.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = buf[pos]
                let d: UInt32
                switch b {
                case 0x30...0x39: d = UInt32(b - 0x30)
                case 0x41...0x46: d = UInt32(b - 0x41 + 10)
                case 0x61...0x66: d = UInt32(b - 0x61 + 10)
                default: return nil
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }
    }

    /// Encodes strings as a JSON array, the form the printer writes exec-form instructions in.
    static func encode(_ items: [String]) -> String {
        var out = "["
        for (i, item) in items.enumerated() {
            if i > 0 { out += ", " }
            out += "\""
            for scalar in item.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                        || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0x85 || scalar.value == 0xA0 {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            out += "\""
        }
        return out + "]"
    }
}
