/// One authentication challenge from a `WWW-Authenticate` header (RFC 9110 §11.6.1):
/// `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`
/// or `Basic realm="Registry"`.
public struct AuthChallenge: Sendable, Hashable {
    /// The scheme, lower-cased: `bearer` or `basic`.
    public var scheme: String
    /// The parameters, with lower-cased names and unquoted values.
    public var parameters: [String: String]

    /// Creates a challenge.
    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    /// The `realm` parameter (for bearer: the token endpoint URL).
    public var realm: String? { parameters["realm"] }
    /// The `service` parameter.
    public var service: String? { parameters["service"] }
    /// The `scope` parameter.
    public var scope: String? { parameters["scope"] }

    /// Parses every challenge in the values of `WWW-Authenticate` headers. A header may carry
    /// several challenges separated by commas; a token not followed by `=` starts a new one.
    /// Malformed parts are skipped rather than failing the request.
    public static func parse(_ headerValues: [String]) -> [AuthChallenge] {
        headerValues.flatMap { parse($0) }
    }

    /// Parses the challenges in one header value.
    public static func parse(_ value: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(value.utf8))
        var challenges = [AuthChallenge]()
        var current: AuthChallenge?
        while true {
            scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: ",") }
            guard !scanner.atEnd else { break }
            let token = scanner.token()
            guard !token.isEmpty else {
                scanner.index += 1  // a stray character: skip it
                continue
            }
            scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            if scanner.peek == UInt8(ascii: "="), current != nil {
                scanner.index += 1
                scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
                let value = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : scanner.token()
                current?.parameters[token.lowercased()] = value
            } else if scanner.peek == UInt8(ascii: "=") {
                // A token68 or parameter before any scheme: skip it.
                scanner.index += 1
                _ = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : scanner.token()
            } else {
                if let current { challenges.append(current) }
                current = AuthChallenge(scheme: token, parameters: [:])
            }
        }
        if let current { challenges.append(current) }
        return challenges
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }

        mutating func skip(_ predicate: (UInt8) -> Bool) {
            while let byte = peek, predicate(byte) { index += 1 }
        }

        /// An RFC 9110 token (also accepting `/` and `:` so unquoted URLs and scopes survive).
        mutating func token() -> String {
            let start = index
            while let byte = peek, byte > 0x20, byte < 0x7F, byte != UInt8(ascii: ","), byte != UInt8(ascii: "="),
                  byte != UInt8(ascii: "\"") {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A quoted string with backslash escapes; the opening quote is at `index`.
        mutating func quoted() -> String {
            index += 1
            var out = [UInt8]()
            while let byte = peek {
                index += 1
                if byte == UInt8(ascii: "\\"), let next = peek {
                    out.append(next)
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    break
                } else {
                    out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
