// The HTTP/1.1 response side: status lines, fixed-length and chunked bodies flushed as they
// are produced, and the connection hijack of attach and exec (101 Switching Protocols, then
// a raw stream both ways).

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor as a ``ByteInput`` and ``ByteOutput`` (a socket: writes use
/// `MSG_NOSIGNAL`, so a closed peer is an error rather than SIGPIPE).
public final class FileOutput: ByteOutput, ByteInput {
    /// The descriptor.
    public let fd: Int32
    let closeOnDeinit: Bool

    /// Wraps `fd`; closes it when released if `closeOnDeinit`.
    public init(fd: Int32, closeOnDeinit: Bool) {
        self.fd = fd
        self.closeOnDeinit = closeOnDeinit
    }

    deinit { if closeOnDeinit { close(fd) } }

    /// Writes all of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            guard let base = bytes.baseAddress else { return }
            var count = send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count < 0 && errno == ENOTSOCK { count = Glibc.write(fd, base + offset, bytes.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw HTTPError(500, "writing to the connection: \(String(cString: strerror(errno)))")
            }
            offset += count
        }
    }

    /// Reads into `buffer`; 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return 0 }
            throw HTTPError(500, "reading from the connection: \(String(cString: strerror(errno)))")
        }
    }
}

/// Writes one response: a whole body, a chunked stream, or a hijacked raw stream.
public final class ResponseWriter {
    let output: any ByteOutput
    /// Whether the connection stays open after this response.
    public var keepAlive: Bool
    let isHead: Bool
    /// Whether the status line and header fields went out.
    public private(set) var headSent = false
    /// Whether the response is a chunked stream in progress.
    public private(set) var streaming = false
    /// Whether the connection was handed over as a raw stream.
    public private(set) var hijacked = false
    /// Header fields added to every response (`Api-Version`, `Server`, …).
    public var commonHeaders: [(String, String)] = []

    /// A writer to `output` for a request that wants `keepAlive`; `isHead` drops bodies.
    public init(output: any ByteOutput, keepAlive: Bool, isHead: Bool) {
        self.output = output
        self.keepAlive = keepAlive
        self.isHead = isHead
    }

    /// The reason phrase of `status`.
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "UPGRADED"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    func writeRaw(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try output.write($0) }
    }

    func writeHead(status: Int, headers: [(String, String)]) throws {
        precondition(!headSent, "a response head is written once")
        headSent = true
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in commonHeaders + headers { text += "\(name): \(value)\r\n" }
        if !keepAlive && status != 101 { text += "Connection: close\r\n" }
        text += "\r\n"
        try writeRaw(Array(text.utf8))
    }

    /// Sends a complete response with `body`.
    public func send(status: Int, contentType: String? = nil, body: [UInt8] = [], headers: [(String, String)] = []) throws {
        var all = headers
        if let contentType { all.append(("Content-Type", contentType)) }
        if status != 204 && status != 304 && status >= 200 { all.append(("Content-Length", "\(body.count)")) }
        try writeHead(status: status, headers: all)
        if !isHead && !body.isEmpty && status != 204 && status != 304 { try writeRaw(body) }
    }

    /// Sends a JSON document.
    public func sendJSON(status: Int = 200, _ value: Any) throws {
        try send(status: status, contentType: "application/json", body: try JSON.encode(value) + [0x0A])
    }

    /// Starts a chunked response; follow with ``write(_:)`` and ``finish()``.
    public func beginStream(status: Int = 200, contentType: String, headers: [(String, String)] = []) throws {
        try writeHead(status: status, headers: headers + [("Content-Type", contentType), ("Transfer-Encoding", "chunked")])
        streaming = true
    }

    /// Sends `bytes` as one chunk of a stream, at once.
    public func write(_ bytes: [UInt8]) throws {
        precondition(streaming, "write(_:) is for streams")
        guard !bytes.isEmpty, !isHead else { return }
        try writeRaw(Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [0x0D, 0x0A])
    }

    /// Sends one JSON value and a newline as a chunk of a stream.
    public func writeJSONLine(_ value: Any) throws {
        try write(try JSON.encode(value) + [0x0A])
    }

    /// Ends a stream.
    public func finish() throws {
        guard streaming else { return }
        streaming = false
        if !isHead { try writeRaw(Array("0\r\n\r\n".utf8)) }
    }

    /// Answers an upgrade request with 101 (or 200 for a client that did not ask to
    /// upgrade) and hands the connection over as a raw stream: what follows is the caller's.
    public func hijack(upgrade: Bool, contentType: String) throws {
        keepAlive = false
        if upgrade {
            try writeHead(status: 101, headers: [("Content-Type", contentType), ("Connection", "Upgrade"), ("Upgrade", "tcp")])
        } else {
            try writeHead(status: 200, headers: [("Content-Type", contentType)])
        }
        hijacked = true
    }

    /// Writes raw bytes of a hijacked stream.
    public func writeRawStream(_ bytes: [UInt8]) throws {
        precondition(hijacked, "raw writes follow hijack(upgrade:contentType:)")
        try writeRaw(bytes)
    }
}

/// Docker's stream multiplexing (`application/vnd.docker.multiplexed-stream`): an 8-byte
/// header — stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, the big-endian payload
/// size — before each payload.
public enum StreamFrame {
    /// The frame of `payload` on `stream`.
    public static func encode(stream: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)] + payload
    }
}

/// JSON encoding of `[String: Any]` trees, with slashes unescaped.
public enum JSON {
    /// The UTF-8 JSON of `value` (a dictionary, array, string, number, bool or NSNull).
    public static func encode(_ value: Any) throws -> [UInt8] {
        if let string = value as? String {
            return Array(try JSONSerialization.data(withJSONObject: [string], options: [.withoutEscapingSlashes]).dropFirst().dropLast())
        }
        return Array(try JSONSerialization.data(withJSONObject: value, options: [.withoutEscapingSlashes, .sortedKeys]))
    }

    /// Parses `bytes` as JSON (fragments allowed).
    public static func decode(_ bytes: [UInt8]) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw APIError(400, "invalid JSON in the request body: \(error.localizedDescription)")
        }
    }

    /// The `[String: Any]` tree of an `Encodable` value.
    public static func tree<T: Encodable>(_ value: T) throws -> Any {
        let data = try JSONEncoder().encode(value)
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }
}
