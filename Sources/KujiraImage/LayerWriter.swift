public import KujiraArchive
public import KujiraOCI

/// Writes an image layer into the ``ContentStore`` from an uncompressed tar stream,
/// computing both digests an image needs in one pass: the digest of the stored (compressed)
/// blob, which goes in the manifest, and the `diff_id` (the digest of the uncompressed tar),
/// which goes in the config's `rootfs.diff_ids` (image-spec config.md, "Layer DiffID").
///
/// The pipeline is `sink` → diff_id hasher → compressor → ``ContentWriter`` (which hashes
/// the compressed bytes and verifies them on commit), so nothing is buffered beyond the
/// compressor's window and nothing is read twice.
///
/// ```swift
/// let layer = try LayerWriter(store: store.content)
/// let tar = TarWriter(layer.sink)
/// try DirectoryArchiver().archive(directory: "/tmp/rootfs", to: tar)
/// try tar.finish()                       // finishing the sink is allowed; commit() does it too
/// let (descriptor, diffID) = try layer.commit()
/// ```
///
/// Not thread-safe: one writer is used by one task at a time. A writer dropped without
/// ``commit()`` leaves nothing in the store.
public final class LayerWriter {
    /// The compression of the stored blob.
    public let compression: Compression
    /// Where to write the uncompressed tar stream. Finishing it is optional:
    /// ``commit()`` finishes it when the caller did not.
    public var sink: any ByteSink { input }
    /// The number of uncompressed bytes written so far (the size of the tar stream).
    public var uncompressedSize: Int64 { diffHasher.count }

    private let writer: ContentWriter
    private let diffHasher: StreamHasher
    private let input: FinishOnceSink

    /// Starts a layer in `store`.
    /// - Parameter compression: how to compress the stored blob; `.none` stores the tar
    ///   itself (then the blob digest equals the diff_id).
    /// - Throws: ``ImageStoreError`` `.io` when the ingest file cannot be created, or an
    ///   `ArchiveError` when the compressor cannot start.
    public init(store: ContentStore, compression: Compression = .gzip) throws {
        self.compression = compression
        let writer = try store.ingest()
        let hasher = StreamHasher()
        let compressor = try compressingSink(ContentWriterSink(writer), compression: compression)
        self.writer = writer
        self.diffHasher = hasher
        self.input = FinishOnceSink(ObservingSink(compressor) { hasher.update($0) })
    }

    /// The OCI media type of a layer blob with `compression`.
    public static func mediaType(for compression: Compression) -> String {
        switch compression {
        case .none: return MediaType.layer
        case .gzip: return MediaType.layerGzip
        case .zstd: return MediaType.layerZstd
        }
    }

    /// Finishes the stream (compressor trailer included) and commits the blob.
    /// - Returns: the layer's descriptor (OCI media type for ``compression``) and its diff_id.
    /// - Throws: ``ImageStoreError`` `.io` when the blob cannot be written; the writer is
    ///   finished either way.
    public func commit() throws -> (descriptor: Descriptor, diffID: Digest) {
        do {
            try input.finish()
            guard let diffID = diffHasher.finalize() else {
                throw ImageStoreError(.invalidArgument, "layer writer was already committed")
            }
            let (digest, size) = try writer.commit()
            return (Descriptor(mediaType: Self.mediaType(for: compression), digest: digest, size: size), diffID)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Drops the layer: the temporary ingest file is removed and nothing is stored.
    public func abort() {
        writer.abort()
    }
}

/// A SHA-256 hasher with reference semantics, so that a stream observer closure can feed it.
final class StreamHasher {
    private var hasher: DigestHasher?
    /// The number of bytes hashed so far.
    private(set) var count: Int64 = 0

    init(_ algorithm: Digest.Algorithm = .sha256) {
        hasher = DigestHasher(algorithm)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        hasher?.update(bytes)
        count += Int64(bytes.count)
    }

    /// The digest of everything hashed; nil when already finalised.
    func finalize() -> Digest? {
        hasher.take()?.finalize()
    }
}

/// Passes written bytes to a ``ContentWriter``; finishing does nothing (the owner commits).
final class ContentWriterSink: ByteSink {
    private let writer: ContentWriter

    init(_ writer: ContentWriter) { self.writer = writer }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }

    func finish() throws {}
}

/// Forwards to a sink and makes a second ``finish()`` a no-op, so that a caller may finish
/// the stream (e.g. through `TarWriter.finish()`) before the owner does.
final class FinishOnceSink: ByteSink {
    private let downstream: any ByteSink
    private var finished = false

    init(_ downstream: any ByteSink) { self.downstream = downstream }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else {
            throw ImageStoreError(.invalidArgument, "write to a layer stream after it was finished")
        }
        try downstream.write(bytes)
    }

    func finish() throws {
        guard !finished else { return }
        finished = true
        try downstream.finish()
    }
}
