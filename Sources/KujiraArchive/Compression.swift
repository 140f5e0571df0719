/// The compression of a stream, as found in image layers: none, gzip (`1f 8b`) or zstd
/// (`28 b5 2f fd`).
public enum Compression: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Uncompressed bytes.
    case none
    /// gzip (RFC 1952), possibly several concatenated members.
    case gzip
    /// Zstandard (RFC 8878), possibly several frames.
    case zstd

    /// The name, e.g. `gzip`.
    public var description: String { rawValue }

    /// The number of leading bytes ``detect(_:)`` needs to tell the formats apart.
    public static let magicLength = 4

    /// The compression whose magic bytes start `prefix`; `.none` when neither matches
    /// (including when `prefix` is too short to tell).
    public static func detect<Bytes: Collection>(_ prefix: Bytes) -> Compression where Bytes.Element == UInt8 {
        var iterator = prefix.makeIterator()
        let b0 = iterator.next(), b1 = iterator.next(), b2 = iterator.next(), b3 = iterator.next()
        if b0 == 0x1f && b1 == 0x8b { return .gzip }
        if b0 == 0x28 && b1 == 0xb5 && b2 == 0x2f && b3 == 0xfd { return .zstd }
        return .none
    }

    /// Peeks at the first bytes of `source` and detects its compression.
    /// - Returns: the compression, and a source that yields the whole stream again
    ///   (the peeked bytes, then the rest of `source`).
    public static func detect(peeking source: any ByteSource) throws -> (Compression, any ByteSource) {
        var prefix = [UInt8](repeating: 0, count: magicLength)
        let n = try prefix.withUnsafeMutableBytes { try source.readFully(into: $0) }
        prefix.removeLast(magicLength - n)
        return (detect(prefix), PrefixedSource(prefix: prefix, upstream: source))
    }
}

/// A source that yields the decompressed bytes of `source`.
///
/// - Parameters:
///   - source: the compressed stream.
///   - compression: its compression; `nil` detects it from the magic bytes.
///   - maxDecompressedBytes: stop with ``ArchiveError/Code/limitExceeded`` once more than this
///     many bytes come out (a decompression-bomb guard; `nil` means no limit). Applies to
///     `.none` too, so the caller's limit holds whatever the input is.
///   - name: how errors name the stream (e.g. the layer digest).
public func decompressingSource(
    _ source: any ByteSource,
    compression: Compression?,
    maxDecompressedBytes: UInt64? = nil,
    name: String = "stream"
) throws -> any ByteSource {
    var source = source
    var kind = compression ?? .none
    if compression == nil { (kind, source) = try Compression.detect(peeking: source) }
    switch kind {
    case .none:
        guard let limit = maxDecompressedBytes else { return source }
        return LimitedSource(source, limit: limit, name: name)
    case .gzip:
        return try GzipDecompressor(source, maxOutputBytes: maxDecompressedBytes, name: name)
    case .zstd:
        return try ZstdDecompressor(source, maxOutputBytes: maxDecompressedBytes, name: name)
    }
}

/// A sink that compresses what is written to it into `sink`. Call ``ByteSink/finish()`` on
/// the returned sink to write the trailer; it finishes `sink` too.
///
/// Output is deterministic: the same input and level give the same bytes (gzip headers
/// carry no name and a zero mtime; zstd runs single-threaded).
/// - Parameters:
///   - level: the compression level; `nil` is each format's default (gzip 6, zstd 3).
public func compressingSink(_ sink: any ByteSink, compression: Compression, level: Int? = nil) throws -> any ByteSink {
    switch compression {
    case .none: return sink
    case .gzip: return try GzipCompressor(sink, level: level ?? GzipCompressor.defaultLevel)
    case .zstd: return try ZstdCompressor(sink, level: level ?? ZstdCompressor.defaultLevel)
    }
}

/// Passes bytes through, failing once more than `limit` bytes went by.
final class LimitedSource: ByteSource {
    private let upstream: any ByteSource
    private let limit: UInt64
    private let name: String
    private var total: UInt64 = 0

    init(_ upstream: any ByteSource, limit: UInt64, name: String) {
        self.upstream = upstream
        self.limit = limit
        self.name = name
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        total += UInt64(n)
        if total > limit { throw ArchiveError.sizeLimit(name: name, limit: limit) }
        return n
    }
}

extension ArchiveError {
    /// The decompression-bomb error.
    static func sizeLimit(name: String, limit: UInt64) -> ArchiveError {
        ArchiveError(.limitExceeded, "\(name) decompresses to more than the limit of \(limit) bytes; the input may be a decompression bomb — raise the limit only if the content is trusted")
    }
}
