import Foundation

/// HTTP header fields in order, with case-insensitive lookup (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields as sent or received, in order.
    public private(set) var fields: [(name: String, value: String)] = []

    /// Creates empty headers.
    public init() {}

    /// Creates headers from literal pairs.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The first value of the field `name`, compared case-insensitively.
    public subscript(name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    /// Every value of the field `name` (a header may repeat, e.g. `WWW-Authenticate`).
    public func values(for name: String) -> [String] {
        let lower = name.lowercased()
        return fields.filter { $0.name.lowercased() == lower }.map(\.value)
    }

    /// Appends a field.
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field `name`.
    public mutating func remove(_ name: String) {
        let lower = name.lowercased()
        fields.removeAll { $0.name.lowercased() == lower }
    }

    /// Iterates over the fields in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// Headers are equal when their fields are, in order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// Hashes the fields.
    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }
}

/// An absolute `http` or `https` URL, split the way an HTTP/1.1 client needs it.
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// The host name or address, IPv6 without brackets.
    public var host: String
    /// The port (default 80 or 443).
    public var port: Int
    /// The path and query, starting with `/`.
    public var pathAndQuery: String
    /// `user:password` before the host, if the URL had one (proxy URLs do); not sent.
    public var userInfo: String?

    /// Whether the scheme is `https`.
    public var isTLS: Bool { scheme == "https" }

    /// `host:port`, with brackets around IPv6 addresses, as sent in `Host` (the default
    /// port is left out).
    public var authority: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort = isTLS ? 443 : 80
        return port == defaultPort ? bracketed : "\(bracketed):\(port)"
    }

    /// The whole URL.
    public var description: String { "\(scheme)://\(authority)\(pathAndQuery)" }

    /// Creates a URL from its parts.
    public init(scheme: String, host: String, port: Int? = nil, pathAndQuery: String) {
        self.scheme = scheme
        self.host = host
        self.port = port ?? (scheme == "https" ? 443 : 80)
        self.pathAndQuery = pathAndQuery.isEmpty ? "/" : pathAndQuery
    }

    /// Parses `scheme://host[:port][/path][?query]`; the fragment is dropped. Returns nil
    /// for other schemes or malformed authorities.
    public init?(string: String) {
        guard let schemeEnd = string.range(of: "://") else { return nil }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        var rest = string[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<pathStart]
        var path = String(rest[pathStart...])
        if path.hasPrefix("?") { path = "/" + path }
        var userInfo: String?
        if let at = authority.lastIndex(of: "@") {
            userInfo = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        guard let (host, port) = HTTPURL.splitAuthority(String(authority)) else { return nil }
        self.init(scheme: scheme, host: host, port: port, pathAndQuery: path)
        self.userInfo = userInfo
    }

    /// Splits `host[:port]` or `[v6][:port]`.
    static func splitAuthority(_ authority: String) -> (String, Int?)? {
        guard !authority.isEmpty else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty { return (host, nil) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            return (String(authority[..<colon]), port)
        }
        return (authority, nil)
    }

    /// Resolves a `Location` header against this URL: absolute URLs, `//host/path`,
    /// absolute paths and (rarely used by registries) relative paths.
    public func resolving(_ location: String) -> HTTPURL? {
        if location.contains("://") { return HTTPURL(string: location) }
        if location.hasPrefix("//") { return HTTPURL(string: "\(scheme):\(location)") }
        var copy = self
        if location.hasPrefix("/") {
            copy.pathAndQuery = location
        } else {
            let path = pathAndQuery.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
            let directory = path.hasSuffix("/") ? path : String(path[...(path.lastIndex(of: "/") ?? path.startIndex)])
            copy.pathAndQuery = directory + location
        }
        return copy
    }

    /// This URL with `name=value` query parameters appended (values percent-encoded).
    public func appendingQuery(_ items: [(String, String)]) -> HTTPURL {
        guard !items.isEmpty else { return self }
        var copy = self
        let query = items.map { "\(HTTPURL.percentEncode($0.0))=\(HTTPURL.percentEncode($0.1))" }.joined(separator: "&")
        copy.pathAndQuery += (pathAndQuery.contains("?") ? "&" : "?") + query
        return copy
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

/// Where a request body comes from.
public enum HTTPRequestBody: Sendable, Hashable {
    /// No body.
    case none
    /// Bytes in memory (manifests, small blobs).
    case bytes([UInt8])
    /// `length` bytes of an open file from `offset`, read with `pread` so a retry can send
    /// them again. The caller owns the descriptor.
    case file(fd: Int32, offset: Int64, length: Int64)

    /// The body's length in bytes.
    public var length: Int64 {
        switch self {
        case .none: 0
        case .bytes(let bytes): Int64(bytes.count)
        case .file(_, _, let length): length
        }
    }
}

/// An HTTP/1.1 request.
public struct HTTPRequest: Sendable {
    /// The method: `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`.
    public var method: String
    /// The URL.
    public var url: HTTPURL
    /// Header fields; `Host`, `Content-Length` and `Connection` are added by the client.
    public var headers: HTTPHeaders
    /// The body.
    public var body: HTTPRequestBody
    /// Seconds any one send or receive of this exchange (including the TLS handshake) may
    /// block; nil: the client's ``HTTPClient/Options/ioTimeout``.
    public var timeout: Double?

    /// Creates a request.
    public init(method: String, url: HTTPURL, headers: HTTPHeaders = HTTPHeaders(), body: HTTPRequestBody = .none, timeout: Double? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// The reason phrase.
    public var reason: String
    /// The minor HTTP version (`1` for HTTP/1.1, `0` for HTTP/1.0).
    public var minorVersion: Int
    /// The header fields.
    public var headers: HTTPHeaders

    /// Creates a response head.
    public init(status: Int, reason: String, minorVersion: Int = 1, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.reason = reason
        self.minorVersion = minorVersion
        self.headers = headers
    }
}

/// A response whose body was either collected (``body``) or streamed into a sink.
public struct HTTPResponse: Sendable {
    /// Status and headers of the final response (after redirects).
    public var head: HTTPResponseHead
    /// The body, when it was collected rather than streamed.
    public var body: [UInt8]
    /// The URL that answered (after redirects).
    public var url: HTTPURL

    /// The status code.
    public var status: Int { head.status }
    /// The header fields.
    public var headers: HTTPHeaders { head.headers }
}
