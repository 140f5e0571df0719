// Detach keys: the key sequence that ends an attached client's session while the container
// (or the exec'd process) keeps running — Docker's `--detach-keys`, the `detachKeys` query
// parameter of attach and the `DetachKeys` field of exec create.
//
//     let keys = try DetachKeys(parsing: "ctrl-x,q")          // nil or "" → ctrl-p,ctrl-q
//     var scanner = DetachKeyScanner(keys: keys)
//     let (forward, detached) = scanner.feed(bytesFromTheClient)
//
// Docker (moby/term's escape proxy) applies them to a TTY's input only: without a TTY stdin
// may carry any bytes, so kujira and kujirad pass it on untouched.

/// A parsed detach key sequence (Docker's format: comma-separated `ctrl-<key>` and single
/// characters; `ctrl-<key>` takes `a`–`z`, `@`, `[`, `\`, `]`, `^` and `_`, and `DEL` is 127).
public struct DetachKeys: Sendable, Hashable, CustomStringConvertible {
    /// The bytes that detach, in order; never empty.
    public let bytes: [UInt8]

    /// Docker's default sequence, ctrl-p then ctrl-q (used when no keys are given).
    public static let `default` = DetachKeys(checked: [0x10, 0x11])

    private init(checked bytes: [UInt8]) { self.bytes = bytes }

    /// Parses `spec`; nil or an empty string gives ``default``.
    /// - Throws: ``EngineError`` `.invalidArgument` naming the spec and the key it cannot read.
    public init(parsing spec: String?) throws {
        guard let spec, !spec.isEmpty else {
            self = .default
            return
        }
        var bytes: [UInt8] = []
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            bytes.append(try Self.code(of: item, in: spec))
        }
        self.bytes = bytes
    }

    /// The byte of one key of `spec`.
    private static func code(of item: Substring, in spec: String) throws -> UInt8 {
        let utf8 = Array(item.utf8)
        if utf8.count == 1 { return utf8[0] }
        if item == "DEL" { return 127 }
        let lower = item.lowercased()
        if lower.hasPrefix("ctrl-"), lower.utf8.count == 6, let last = lower.utf8.last {
            switch last {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return last - UInt8(ascii: "a") + 1
            case UInt8(ascii: "@"): return 0
            case UInt8(ascii: "["): return 27
            case UInt8(ascii: "\\"): return 28
            case UInt8(ascii: "]"): return 29
            case UInt8(ascii: "^"): return 30
            case UInt8(ascii: "_"): return 31
            default: break
            }
        }
        let shown = item.isEmpty ? "an empty key" : "\"\(item)\""
        throw EngineError(.invalidArgument, "invalid detach keys \"\(spec)\": \(shown) is not a key; "
            + "give a comma-separated list of ctrl-<a-z|@|[|\\|]|^|_> and single characters, such as ctrl-p,ctrl-q")
    }

    /// The sequence in Docker's format (`ctrl-p,ctrl-q`).
    public var description: String {
        bytes.map { byte -> String in
            switch byte {
            case 0: return "ctrl-@"
            case 1...26: return "ctrl-" + String(UnicodeScalar(byte - 1 + UInt8(ascii: "a")))
            case 27: return "ctrl-["
            case 28: return "ctrl-\\"
            case 29: return "ctrl-]"
            case 30: return "ctrl-^"
            case 31: return "ctrl-_"
            case 127: return "DEL"
            default: return String(UnicodeScalar(byte))
            }
        }.joined(separator: ",")
    }
}

/// Finds a detach sequence in a stream of input that arrives in pieces of any size: bytes
/// that may start the sequence are held back until the next bytes decide; a partial match
/// followed by other bytes is passed on unchanged, as Docker does.
public struct DetachKeyScanner: Sendable {
    /// The sequence looked for.
    public let keys: DetachKeys
    private var held = 0

    /// A scanner for `keys`.
    public init(keys: DetachKeys) { self.keys = keys }

    /// Whether the bytes seen so far end with a partial match (held back, not yet forwarded).
    public var isHolding: Bool { held > 0 }

    /// Scans the next piece of input: the bytes to forward to the container, and whether the
    /// whole sequence was typed (then the bytes after it are dropped, and so are the keys).
    public mutating func feed(_ input: some Collection<UInt8>) -> (forward: [UInt8], detach: Bool) {
        let keys = self.keys.bytes
        var forward: [UInt8] = []
        forward.reserveCapacity(input.count + held)
        for byte in input {
            if byte == keys[held] {
                held += 1
            } else {
                // The held prefix was not the sequence: it goes on, and this byte may begin
                // a new match. (A prefix of the sequence that is also a suffix of the held
                // bytes needs no back-tracking here: Docker's proxy does not do it either.)
                forward += keys[0..<held]
                held = byte == keys[0] ? 1 : 0
                if held == 0 { forward.append(byte) }
            }
            if held == keys.count {
                held = 0
                return (forward, true)
            }
        }
        return (forward, false)
    }

    /// The held-back bytes of a partial match, at the end of input (to forward them).
    public mutating func flush() -> [UInt8] {
        defer { held = 0 }
        return Array(keys.bytes[0..<held])
    }
}
