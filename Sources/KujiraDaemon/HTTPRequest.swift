// The HTTP/1.1 request side of kujirad's server: a buffered reader over a byte source, the
// request-head parser (request line and header fields, with limits) and the request body
// (Content-Length or chunked). Pure over ``ByteInput``, so the unit tests feed it bytes.

import Foundation

/// A source of bytes: a socket, or memory in tests.
public protocol ByteInput: AnyObject {
    /// Reads up to `buffer.count` bytes; 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A sink of bytes: a socket, or memory in tests.
public protocol ByteOutput: AnyObject {
    /// Writes every byte of `bytes` or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// An HTTP-level failure: the status code to answer with and why.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// The response status (400, 431, 501, 505, …).
    public var status: Int
    /// A one-line reason.
    public var message: String
    /// An error answered with `status`.
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
    /// The reason.
    public var description: String { message }
}

/// Header fields in their order, looked up without regard to case.
public struct HTTPHeaders: Sendable {
    /// The fields as received.
    public var fields: [(name: String, value: String)] = []
    /// No fields.
    public init() {}
    /// The first value of `name`.
    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
    /// Every value of `name`.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }
    /// Whether a comma-separated header `name` lists `token` (case-insensitive).
    public func contains(_ name: String, token: String) -> Bool {
        values(name).contains { value in
            value.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).caseInsensitiveCompare(token) == .orderedSame }
        }
    }
}

/// Reads a ``ByteInput`` through a buffer, line by line or in blocks.
public final class BufferedInput {
    let source: any ByteInput
    var buffer: [UInt8] = []
    var start = 0
    var ended = false

    /// A reader over `source`.
    public init(_ source: any ByteInput) { self.source = source }

    /// Whether bytes are waiting in the buffer.
    var hasBuffered: Bool { start < buffer.count }

    /// Reads more bytes into the buffer; false at the end of the stream.
    func fill() throws -> Bool {
        if ended { return false }
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let count = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
        if count <= 0 {
            ended = true
            return false
        }
        buffer += chunk[0..<count]
        return true
    }

    /// A line ending in CRLF (or LF), without its ending; nil at the end of the stream
    /// before any byte. More than `limit` bytes without an ending throw `tooLong`.
    func readLine(limit: Int, tooLong: HTTPError) throws -> String? {
        var scanned = start
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                guard end - start <= limit else { throw tooLong }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                return line
            }
            guard buffer.count - start <= limit else { throw tooLong }
            scanned = buffer.count
            let before = start
            guard try fill() else {
                if buffer.count == start { return nil }
                throw HTTPError(400, "the request ended in the middle of a line")
            }
            scanned -= before - start
        }
    }

    /// Up to `count` bytes: buffered ones first, else one read of the source. Empty at the end.
    func readSome(max count: Int) throws -> ArraySlice<UInt8> {
        if !hasBuffered {
            guard try fill() else { return [] }
        }
        let end = min(buffer.count, start + count)
        let slice = buffer[start..<end]
        start = end
        return slice
    }
}

/// A parsed request line and header fields.
public struct RequestHead: Sendable {
    /// `GET`, `POST`, …
    public var method: String
    /// The request target as sent (`/v1.45/containers/json?all=1`).
    public var target: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    /// The header fields.
    public var headers: HTTPHeaders

    /// Whether the client wants the connection kept open after this exchange.
    public var keepAlive: Bool {
        if headers.contains("Connection", token: "close") { return false }
        if version == "HTTP/1.0" { return headers.contains("Connection", token: "keep-alive") }
        return true
    }
}

/// Parses request heads: the request line, then header fields up to an empty line.
public enum RequestParser {
    /// The most bytes of a request line and header fields together (Docker's Go server
    /// allows 1 MB; 64 KiB is plenty for the API and bounds a client's memory use).
    public static let maximumHeadBytes = 64 * 1024

    /// The tokens a method may be made of (RFC 9110 `token`).
    static let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// Reads one request head; nil when the stream ends cleanly before a request.
    /// - Throws: ``HTTPError`` 400 for a malformed head, 431 for one over
    ///   ``maximumHeadBytes``, 505 for an HTTP version other than 1.0 and 1.1.
    public static func readHead(from input: BufferedInput, maximumBytes: Int = maximumHeadBytes) throws -> RequestHead? {
        let tooLarge = HTTPError(431, "request header fields too large (more than \(maximumBytes) bytes)")
        // Robustness (RFC 9112 §2.2): empty lines before a request line are ignored.
        var line: String
        repeat {
            guard let next = try input.readLine(limit: maximumBytes, tooLong: tooLarge) else { return nil }
            line = next
        } while line.isEmpty
        var used = line.utf8.count
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ tokenCharacters.contains($0) }),
              parts[1].hasPrefix("/") || parts[1] == "*" else {
            throw HTTPError(400, "malformed request line \"\(line.prefix(100))\"")
        }
        let version = String(parts[2])
        guard version.hasPrefix("HTTP/") else { throw HTTPError(400, "malformed request line \"\(line.prefix(100))\"") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw HTTPError(505, "HTTP version \(version) is not supported") }
        var headers = HTTPHeaders()
        while true {
            guard let field = try input.readLine(limit: maximumBytes, tooLong: tooLarge) else {
                throw HTTPError(400, "the request ended inside its header fields")
            }
            used += field.utf8.count + 2
            guard used <= maximumBytes else { throw tooLarge }
            if field.isEmpty { break }
            guard let colon = field.firstIndex(of: ":"), colon != field.startIndex,
                  field[..<colon].allSatisfy({ tokenCharacters.contains($0) }) else {
                throw HTTPError(400, "malformed header field \"\(field.prefix(100))\"")
            }
            let name = String(field[..<colon])
            let value = field[field.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
            headers.fields.append((name, value))
        }
        return RequestHead(method: String(parts[0]), target: String(parts[1]), version: version, headers: headers)
    }
}

/// A request's body: nothing, a Content-Length of bytes, or chunks (RFC 9112 §7.1).
public final class RequestBody {
    enum Framing { case none, length(Int64), chunked }
    let input: BufferedInput
    let framing: Framing
    var remaining: Int64 = 0
    var chunkRemaining: Int64 = 0
    var finished = false
    /// Called once before the first read (for `Expect: 100-continue`).
    var beforeFirstRead: (() throws -> Void)?

    /// The body framed by `head`'s `Content-Length` or `Transfer-Encoding`.
    /// - Throws: ``HTTPError`` 400 for a bad or conflicting length, 501 for a transfer
    ///   coding other than chunked.
    public init(head: RequestHead, input: BufferedInput) throws {
        self.input = input
        let encodings = head.headers.values("Transfer-Encoding")
        let lengths = head.headers.values("Content-Length")
        if !encodings.isEmpty {
            guard lengths.isEmpty else { throw HTTPError(400, "a request may not have both Content-Length and Transfer-Encoding") }
            let codings = encodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard codings == ["chunked"] else {
                throw HTTPError(501, "transfer coding \(encodings.joined(separator: ", ")) is not supported (only chunked)")
            }
            framing = .chunked
        } else if let first = lengths.first {
            guard Set(lengths).count == 1, let length = Int64(first), length >= 0, first.allSatisfy(\.isASCII) else {
                throw HTTPError(400, "invalid Content-Length \(lengths.joined(separator: ", "))")
            }
            framing = .length(length)
            remaining = length
            finished = length == 0
        } else {
            framing = .none
            finished = true
        }
    }

    /// Whether the request has a body at all.
    public var isPresent: Bool {
        switch framing {
        case .none: return false
        case .length(let length): return length > 0
        case .chunked: return true
        }
    }

    /// Reads up to `max` bytes of the body; empty at its end.
    public func read(max: Int = 64 * 1024) throws -> ArraySlice<UInt8> {
        if finished { return [] }
        if let hook = beforeFirstRead {
            beforeFirstRead = nil
            try hook()
        }
        switch framing {
        case .none:
            return []
        case .length:
            let bytes = try input.readSome(max: Int(min(Int64(max), remaining)))
            guard !bytes.isEmpty else { throw HTTPError(400, "the request body ended \(remaining) bytes early") }
            remaining -= Int64(bytes.count)
            if remaining == 0 { finished = true }
            return bytes
        case .chunked:
            if chunkRemaining == 0 {
                let tooLong = HTTPError(400, "chunk size line too long")
                guard let line = try input.readLine(limit: 1024, tooLong: tooLong) else {
                    throw HTTPError(400, "the request body ended before its last chunk")
                }
                let sizeText = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first.map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
                } ?? ""
                guard !sizeText.isEmpty, sizeText.count <= 15, let size = Int64(sizeText, radix: 16), size >= 0 else {
                    throw HTTPError(400, "invalid chunk size \"\(line.prefix(40))\"")
                }
                if size == 0 {
                    // Trailer fields, ignored, up to the empty line.
                    while true {
                        guard let trailer = try input.readLine(limit: RequestParser.maximumHeadBytes, tooLong: tooLong) else {
                            throw HTTPError(400, "the request body ended inside its trailer")
                        }
                        if trailer.isEmpty { break }
                    }
                    finished = true
                    return []
                }
                chunkRemaining = size
            }
            let bytes = try input.readSome(max: Int(min(Int64(max), chunkRemaining)))
            guard !bytes.isEmpty else { throw HTTPError(400, "the request body ended inside a chunk") }
            chunkRemaining -= Int64(bytes.count)
            if chunkRemaining == 0 {
                let tooLong = HTTPError(400, "missing CRLF after a chunk")
                guard let end = try input.readLine(limit: 2, tooLong: tooLong), end.isEmpty else { throw tooLong }
            }
            return bytes
        }
    }

    /// The whole body, refusing one over `limit` bytes (413).
    public func readAll(limit: Int = 16 * 1024 * 1024) throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let bytes = try read()
            if bytes.isEmpty { return all }
            all += bytes
            guard all.count <= limit else { throw HTTPError(413, "the request body is larger than \(limit) bytes") }
        }
    }

    /// Writes the whole body to the file descriptor `fd`.
    public func copy(to fd: Int32) throws {
        while true {
            let bytes = try read()
            if bytes.isEmpty { return }
            try bytes.withUnsafeBytes { try FileOutput(fd: fd, closeOnDeinit: false).write($0) }
        }
    }

    /// Reads and drops what is left, so the next request on the connection can be read.
    public func drain() throws {
        while !(try read()).isEmpty {}
    }
}

/// The query of a request target, decoded (`+` is a space, `%XX` a byte).
public enum QueryString {
    /// The pairs of `query` in order.
    public static func parse(_ query: Substring) -> [(name: String, value: String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0], plus: true), parts.count > 1 ? decode(parts[1], plus: true) : "")
        }
    }

    /// Percent-decodes `text` (and `+` as a space when `plus`); invalid escapes stay as they are.
    public static func decode(_ text: Substring, plus: Bool) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else if plus && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
