/// Parsing of HTTP/1.1 responses (RFC 9112): the status line and header block, and the
/// chunked transfer coding. Pure: the connection feeds bytes in, so these are unit-tested
/// with tables of wire text.
enum HTTPResponseParser {
    /// The most header bytes accepted before the blank line.
    static let maximumHeadLength = 64 * 1024

    /// Where the header block ends in `bytes` (the index just past `\r\n\r\n`, or past
    /// `\n\n` from sloppy servers), or nil when it is not complete yet.
    static func headEnd(in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 2 else { return nil }
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    /// Parses a complete header block (status line, fields, blank line).
    /// - Throws: ``RegistryError`` `.protocolError` naming what is wrong.
    static func parseHead(_ bytes: some Collection<UInt8>) throws -> HTTPResponseHead {
        // Split on bytes: in a Swift String "\r\n" is one Character, not two.
        var lines = Array(bytes).split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            Substring(String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self))
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let statusLine = lines.first else { throw malformed("an empty response") }
        // HTTP/1.1 200 OK
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let minor = Int(parts[0].dropFirst(7)),
              parts[1].count == 3, let status = Int(parts[1]), (100...999).contains(status)
        else { throw malformed("the status line \"\(statusLine.prefix(80))\"") }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
                // Obsolete line folding (RFC 9112 §5.2): join with the previous field.
                guard let last = headers.fields.last else { throw malformed("a continuation line before any header") }
                headers.remove(last.name)
                headers.add(last.name, last.value + " " + line.trimmingWhitespace())
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw malformed("the header line \"\(line.prefix(80))\"") }
            let name = String(line[..<colon])
            guard !name.isEmpty, !name.contains(" ") else { throw malformed("the header name \"\(name.prefix(80))\"") }
            headers.add(name, line[line.index(after: colon)...].trimmingWhitespace())
        }
        return HTTPResponseHead(status: status, reason: parts.count > 2 ? String(parts[2]) : "", minorVersion: minor, headers: headers)
    }

    /// How the body of a response is delimited (RFC 9112 §6.3).
    enum Framing: Equatable {
        /// No body at all (HEAD, 1xx, 204, 304).
        case none
        /// Exactly this many bytes.
        case length(Int64)
        /// Chunked transfer coding.
        case chunked
        /// Until the server closes the connection.
        case untilClose
    }

    /// The framing of `head`'s body for a request with `method`.
    static func framing(of head: HTTPResponseHead, method: String) throws -> Framing {
        if method == "HEAD" || (100..<200).contains(head.status) || head.status == 204 || head.status == 304 { return .none }
        if let coding = head.headers["Transfer-Encoding"] {
            guard coding.lowercased().split(separator: ",").last?.trimmingWhitespace() == "chunked" else {
                throw malformed("Transfer-Encoding \"\(coding)\" (only chunked is understood)")
            }
            return .chunked
        }
        let lengths = Set(head.headers.values(for: "Content-Length").map { $0.trimmingWhitespace() })
        if let text = lengths.first {
            guard lengths.count == 1, let length = Int64(text), length >= 0 else { throw malformed("Content-Length \"\(text)\"") }
            return .length(length)
        }
        return .untilClose
    }

    static func malformed(_ what: String) -> RegistryError {
        RegistryError(.protocolError, "malformed HTTP response: \(what)")
    }
}

/// Decodes the chunked transfer coding incrementally: feed it whatever bytes arrived, it
/// hands out the data and says how much input it used. Chunk extensions are ignored and
/// trailers skipped.
struct ChunkedDecoder {
    private enum State: Equatable {
        case size            // reading hex digits (and extensions) up to CRLF
        case data(Int64)     // this many data bytes left in the chunk
        case dataEnd         // CRLF after chunk data
        case trailer         // trailer lines after the last chunk, up to an empty line
        case done
    }
    private var state = State.size
    private var line: [UInt8] = []

    /// Whether the terminating zero-length chunk and trailers have been read.
    var isFinished: Bool { state == .done }

    /// Decodes from `input`, passing data to `emit`.
    /// - Returns: how many bytes of `input` were used (less than all once finished).
    /// - Throws: ``RegistryError`` `.protocolError` for malformed framing, or what `emit` throws.
    mutating func decode(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        var index = 0
        while index < input.count {
            switch state {
            case .done:
                return index
            case .size, .trailer, .dataEnd:
                let byte = input[index]
                index += 1
                guard byte == 0x0A else {
                    line.append(byte)
                    if line.count > 4096 { throw HTTPResponseParser.malformed("a chunk-size line longer than 4096 bytes") }
                    continue
                }
                if line.last == 0x0D { line.removeLast() }
                defer { line.removeAll(keepingCapacity: true) }
                switch state {
                case .size:
                    let text = String(decoding: line, as: UTF8.self)
                    let hex = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first?.trimmingWhitespace() ?? ""
                    guard !hex.isEmpty, hex.count <= 15, let size = Int64(hex, radix: 16), size >= 0 else {
                        throw HTTPResponseParser.malformed("the chunk size \"\(text.prefix(40))\"")
                    }
                    state = size == 0 ? .trailer : .data(size)
                case .dataEnd:
                    guard line.isEmpty else { throw HTTPResponseParser.malformed("missing CRLF after chunk data") }
                    state = .size
                default:
                    if line.isEmpty { state = .done }
                }
            case .data(let left):
                let take = Int(min(left, Int64(input.count - index)))
                try emit(UnsafeRawBufferPointer(rebasing: input[index..<index + take]))
                index += take
                state = left - Int64(take) == 0 ? .dataEnd : .data(left - Int64(take))
            }
        }
        return index
    }
}

/// A `Content-Range` value, `bytes FIRST-LAST/TOTAL` (RFC 9110 §14.4) as sent with 206
/// responses, or the distribution API's bare `FIRST-LAST` in upload `Range` headers.
struct ContentRange: Equatable {
    /// The first byte position.
    var first: Int64
    /// The last byte position (inclusive).
    var last: Int64
    /// The complete length, when known (`*` means unknown).
    var total: Int64?

    /// Parses `bytes 0-99/1000`, `bytes 0-99/*` or `0-99`; nil when malformed.
    init?(parsing text: String) {
        var rest = Substring(text.trimmingWhitespace())
        if rest.lowercased().hasPrefix("bytes") {
            rest = rest.dropFirst(5)
            rest = rest.drop { $0 == " " || $0 == "=" }
        }
        var totalText: Substring?
        if let slash = rest.firstIndex(of: "/") {
            totalText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        let bounds = rest.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first else { return nil }
        self.first = first
        self.last = last
        if let totalText, totalText != "*" {
            guard let total = Int64(totalText), total > last else { return nil }
            self.total = total
        }
    }

    /// Creates a range.
    init(first: Int64, last: Int64, total: Int64?) {
        self.first = first
        self.last = last
        self.total = total
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and CR/LF.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
