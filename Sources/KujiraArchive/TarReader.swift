import Glibc

/// Reads a tar stream entry by entry, pulling from a ``ByteSource`` in large buffers.
///
/// Reads ustar, pax (per-file `x` and global `g` headers), GNU (`L`/`K` long names,
/// base-256 numbers, old GNU magic), star and v7 archives, and treats its input as hostile:
/// every header is checksummed, every field validated, extension records are capped
/// (``Options/maxExtensionHeaderSize``), runs of extension headers are bounded, and an end
/// of input inside a header or content is a ``ArchiveError/Code/truncated`` error naming the
/// offset and entry. Nothing is allocated in proportion to a size a header claims.
///
/// ```swift
/// let reader = TarReader(try decompressingSource(FileDescriptorSource(path: p), compression: nil))
/// while let entry = try reader.next() {
///     if entry.type == .regular { try reader.copyContent(to: fd) }   // else content is skipped
/// }
/// ```
///
/// A class, not `Sendable`: one thread reads a stream at a time.
public final class TarReader {
    /// Limits and buffer sizes.
    public struct Options: Sendable {
        /// The largest PAX extended header or GNU long name/link record accepted (1 MiB).
        public var maxExtensionHeaderSize = 1 << 20
        /// The most extension headers (`x`, `g`, `L`, `K`) accepted before one real entry.
        public var maxConsecutiveExtensionHeaders = 16
        /// The internal read buffer (1 MiB); content reads of at least 64 KiB into an
        /// empty buffer bypass it.
        public var bufferSize = 1 << 20
        /// How errors name the stream (e.g. a layer digest).
        public var name = "tar stream"
        /// Creates the default options.
        public init() {}
    }

    private let source: any ByteSource
    private let options: Options
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var sourceEOF = false
    private var bufferOffset: UInt64 = 0  // stream offset of buffer[start]
    private var contentRemaining: UInt64 = 0
    private var paddingRemaining = 0
    private var currentPath = ""
    private var globalRecords: [String: [UInt8]] = [:]
    private var ended = false

    /// Creates a reader over `source` (usually a decompressing source).
    public init(_ source: any ByteSource, options: Options = Options()) {
        self.source = source
        self.options = options
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(options.bufferSize, 64 * 1024), alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// The offset in the (uncompressed) tar stream of the next byte the reader will consume.
    public var offset: UInt64 { bufferOffset }

    /// The number of content bytes of the current entry not yet read.
    public var remainingContent: UInt64 { contentRemaining }

    // MARK: Buffer

    /// Buffers at least `count` bytes unless the source ends first; returns the number buffered.
    private func fill(_ count: Int) throws -> Int {
        if end - start >= count || sourceEOF { return end - start }
        if start + count > buffer.count {
            let live = end - start
            if live > 0, let base = buffer.baseAddress { memmove(base, base + start, live) }
            start = 0
            end = live
        }
        while end - start < count {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n == 0 { sourceEOF = true; break }
            end += n
        }
        return end - start
    }

    private func consume(_ count: Int) {
        start += count
        bufferOffset += UInt64(count)
        if start == end { start = 0; end = 0 }
    }

    /// Discards `count` bytes of the stream.
    private func discard(_ count: UInt64, what: String) throws {
        var left = count
        while left > 0 {
            if start == end {
                guard try fill(1) > 0 else { throw truncated(what) }
            }
            let n = Int(min(UInt64(end - start), left))
            consume(n)
            left -= UInt64(n)
        }
    }

    private func truncated(_ what: String) -> ArchiveError {
        let entry = currentPath.isEmpty ? "" : " in entry \(currentPath)"
        return ArchiveError(.truncated, "truncated tar stream \(options.name) at offset \(bufferOffset)\(entry) (\(what)); the archive is incomplete — fetch or create it again")
    }

    // MARK: Content

    /// Reads up to `into.count` bytes of the current entry's content; returns 0 at its end.
    /// Reads of 64 KiB or more go straight from the source into `into` when nothing is
    /// buffered.
    public func readContent(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard contentRemaining > 0, destination.count > 0 else { return 0 }
        let want = Int(min(UInt64(destination.count), contentRemaining))
        var n: Int
        if start < end {
            n = min(want, end - start)
            UnsafeMutableRawBufferPointer(rebasing: destination[0..<n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            consume(n)
        } else if want >= 64 * 1024 && !sourceEOF {
            n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<want]))
            if n == 0 { sourceEOF = true; throw truncated("content ends \(contentRemaining) bytes early") }
            bufferOffset += UInt64(n)
        } else {
            guard try fill(1) > 0 else { throw truncated("content ends \(contentRemaining) bytes early") }
            n = min(want, end - start)
            UnsafeMutableRawBufferPointer(rebasing: destination[0..<n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            consume(n)
        }
        contentRemaining -= UInt64(n)
        return n
    }

    /// Passes the rest of the current entry's content to `body` in buffer-sized chunks
    /// (pointers into the reader's buffer, valid only during the call).
    public func forEachContentChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        while contentRemaining > 0 {
            if start == end {
                guard try fill(1) > 0 else { throw truncated("content ends \(contentRemaining) bytes early") }
            }
            let n = Int(min(UInt64(end - start), contentRemaining))
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            consume(n)
            contentRemaining -= UInt64(n)
        }
    }

    /// Writes the rest of the current entry's content to `fd` (write(2), EINTR-safe).
    public func copyContent(to fd: Int32, name: String = "file descriptor") throws {
        try forEachContentChunk { try writeAll(fd: fd, $0, name: name) }
    }

    /// Writes the rest of the current entry's content to `sink`.
    public func copyContent(to sink: any ByteSink) throws {
        try forEachContentChunk { try sink.write($0) }
    }

    /// Reads the rest of the current entry's content into memory.
    /// - Parameter limit: the most bytes accepted; a larger entry is a
    ///   ``ArchiveError/Code/limitExceeded`` error (checked before allocating).
    public func readContent(limit: Int) throws -> [UInt8] {
        guard contentRemaining <= UInt64(limit) else {
            throw ArchiveError(.limitExceeded, "entry \(currentPath) in \(options.name) has \(contentRemaining) bytes of content, more than the \(limit)-byte limit")
        }
        var bytes = [UInt8](repeating: 0, count: Int(contentRemaining))
        try bytes.withUnsafeMutableBytes { out in
            var filled = 0
            while filled < out.count {
                filled += try readContent(into: UnsafeMutableRawBufferPointer(rebasing: out[filled...]))
            }
        }
        return bytes
    }

    /// Skips the rest of the current entry's content (done implicitly by ``next()``).
    public func skipContent() throws {
        let n = contentRemaining
        try discard(n, what: "content ends early while skipping")
        contentRemaining = 0
    }

    /// Reads and discards the rest of the underlying source, past the end-of-archive
    /// blocks, so that observers (digest hashers) see every byte of the stream.
    /// - Returns: the number of bytes discarded.
    @discardableResult
    public func drainSource() throws -> UInt64 {
        var total = UInt64(end - start)
        consume(end - start)
        while !sourceEOF {
            let n = try source.read(into: buffer)
            if n == 0 { sourceEOF = true } else { total += UInt64(n); bufferOffset += UInt64(n) }
        }
        return total
    }

    // MARK: Headers

    /// Advances to the next entry, skipping whatever content of the current one was not
    /// read. Returns nil at the end of the archive: two zero blocks, or one zero block or a
    /// clean block boundary followed by the end of input. Data after the end is not read.
    public func next() throws -> TarEntry? {
        if ended { return nil }
        if contentRemaining > 0 { try skipContent() }
        if paddingRemaining > 0 {
            try discard(UInt64(paddingRemaining), what: "padding after content")
            paddingRemaining = 0
        }
        currentPath = ""
        var local: [String: [UInt8]] = [:]
        var longName: [UInt8]?
        var longLink: [UInt8]?
        var extensionHeaders = 0
        while true {
            let headerOffset = bufferOffset
            let available = try fill(TarLayout.blockSize)
            if available == 0 {
                if extensionHeaders > 0 { throw truncated("end of input after an extension header, before its entry") }
                ended = true
                return nil
            }
            guard available >= TarLayout.blockSize else { throw truncated("inside a header block") }
            let block = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + TarLayout.blockSize)])
            if TarField.isZeroBlock(block) {
                consume(TarLayout.blockSize)
                let more = try fill(TarLayout.blockSize)
                if more == 0 || (more >= TarLayout.blockSize && TarField.isZeroBlock(
                    UnsafeRawBufferPointer(rebasing: buffer[start..<(start + TarLayout.blockSize)]))) {
                    if extensionHeaders > 0 {
                        throw ArchiveError(.invalidHeader, "tar stream \(options.name) ends at offset \(headerOffset) right after an extension header; the archive is corrupt")
                    }
                    ended = true
                    return nil
                }
                if more < TarLayout.blockSize { throw truncated("inside a header block after a zero block") }
                throw ArchiveError(.invalidHeader, "tar stream \(options.name) has a zero block at offset \(headerOffset) followed by a header; the archive is corrupt (or was concatenated without --ignore-zeros)")
            }
            let header = try RawHeader(block, offset: headerOffset, name: options.name)
            consume(TarLayout.blockSize)

            switch header.typeflag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                extensionHeaders += 1
                if extensionHeaders > options.maxConsecutiveExtensionHeaders {
                    throw ArchiveError(.limitExceeded, "tar stream \(options.name) has more than \(options.maxConsecutiveExtensionHeaders) extension headers in a row at offset \(headerOffset); the archive is hostile or corrupt")
                }
                let data = try readExtension(header, offset: headerOffset)
                switch header.typeflag {
                case UInt8(ascii: "x"):
                    let records = try PAXRecords.parse(data, context: "at offset \(headerOffset) in \(options.name)")
                    for (key, value) in records { local[key] = value }
                case UInt8(ascii: "g"):
                    let records = try PAXRecords.parse(data, context: "(global) at offset \(headerOffset) in \(options.name)")
                    for (key, value) in records {
                        // path, linkpath and size cannot sensibly apply to every later
                        // entry; Go ignores global headers entirely, GNU tar applies them.
                        if [PAXRecords.path, PAXRecords.linkpath, PAXRecords.size].contains(key) { continue }
                        if value.isEmpty && !key.hasPrefix(PAXRecords.schilyXattr) { globalRecords[key] = nil } else { globalRecords[key] = value }
                    }
                case UInt8(ascii: "L"):
                    longName = Array(data.prefix { $0 != 0 })
                default:
                    longLink = Array(data.prefix { $0 != 0 })
                }
            default:
                return try makeEntry(header, local: local, longName: longName, longLink: longLink, offset: headerOffset)
            }
        }
    }

    /// Reads an extension header's content (capped) and skips its padding.
    private func readExtension(_ header: RawHeader, offset: UInt64) throws -> [UInt8] {
        guard header.size >= 0, header.size <= Int64(options.maxExtensionHeaderSize) else {
            throw ArchiveError(.limitExceeded, "extension header (type \(Character(Unicode.Scalar(header.typeflag)))) at offset \(offset) in \(options.name) claims \(header.size) bytes, more than the \(options.maxExtensionHeaderSize)-byte limit; the archive is hostile or corrupt")
        }
        contentRemaining = UInt64(header.size)
        currentPath = "(extension header)"
        let data = try readContent(limit: options.maxExtensionHeaderSize)
        currentPath = ""
        try discard(UInt64(Self.padding(header.size)), what: "padding after an extension header")
        return data
    }

    var streamName: String { options.name }
    var globalRecordsSnapshot: [String: [UInt8]] { globalRecords }
    func setCurrentPath(_ path: String) { currentPath = path }
    func startContent(size: Int64) {
        contentRemaining = UInt64(size)
        paddingRemaining = Self.padding(size)
    }

    static func padding(_ size: Int64) -> Int {
        Int((Int64(TarLayout.blockSize) - size % Int64(TarLayout.blockSize)) % Int64(TarLayout.blockSize))
    }
}
