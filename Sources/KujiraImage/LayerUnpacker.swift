#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI
import KujiraArchive

/// How a ``LayerUnpacker`` reads a layer blob.
public struct LayerUnpackOptions: Sendable {
    /// The most uncompressed bytes one layer may produce (the tar stream including anything
    /// after its end), against decompression bombs: a few KiB of gzip can inflate to
    /// terabytes of zeros. Default 64 GiB; lower it for untrusted sources on small disks.
    public var maxUncompressedBytes: UInt64
    /// Inflate (and hash the compressed bytes) on a second thread while this thread parses
    /// tar and writes files, as GNU tar does by running `gzip -d` in a separate process.
    /// Default true.
    public var pipelined: Bool
    /// The size of each buffer (default 1 MiB).
    public var bufferSize: Int
    /// The number of buffers in flight between the two threads (default 4).
    public var queueDepth: Int

    /// Creates options.
    public init(maxUncompressedBytes: UInt64 = 64 << 30, pipelined: Bool = true, bufferSize: Int = 1 << 20, queueDepth: Int = 4) {
        self.maxUncompressedBytes = maxUncompressedBytes
        self.pipelined = pipelined
        self.bufferSize = max(bufferSize, 64 * 1024)
        self.queueDepth = max(queueDepth, 2)
    }
}

/// What unpacking one layer found: both digests as computed from the bytes, and counts.
public struct LayerUnpackResult: Sendable, Hashable {
    /// The digest of the blob as read (equal to the descriptor's).
    public var digest: Digest
    /// The number of blob bytes read.
    public var compressedSize: Int64
    /// The digest of the uncompressed tar stream (equal to the config's diff_id).
    public var diffID: Digest
    /// The number of uncompressed bytes.
    public var uncompressedSize: UInt64
    /// The number of tar entries applied.
    public var entries: Int
}

/// Streams one layer blob into a ``RootfsWriter``, verifying it on the way:
///
/// blob fd → hash (compressed digest) → gunzip/zstd (per the media type, magic checked) →
/// hash (diff_id) → ``TarReader`` → ``RootfsWriter/apply(_:content:)``
///
/// After the tar end-of-archive the rest of the stream is read too, so both hashes cover
/// every byte; then the blob's digest and size are compared with the descriptor and the
/// uncompressed digest with the image config's diff_id. Any difference is a ``LayerError``
/// naming the layer and the check that failed (``LayerError/Code/digestMismatch``,
/// ``LayerError/Code/sizeMismatch``, ``LayerError/Code/diffIDMismatch``). Entries are
/// written before the end is verified (a layer cannot be verified without reading all of
/// it), so callers unpack into a private directory and publish it only when this returns:
/// ``SnapshotStore`` and ``ImageStore/unpackBundle(_:to:)`` do.
///
/// ```swift
/// let writer = try RootfsWriter(root: dir)
/// let fd = try store.content.openForReading(layer.digest)
/// defer { close(fd) }
/// _ = try LayerUnpacker().unpack(blobFD: fd, layer: layer, diffID: config.rootfs.diffIDs[0], into: writer)
/// try writer.finish()
/// ```
public struct LayerUnpacker: Sendable {
    /// The options in force.
    public var options: LayerUnpackOptions

    /// Creates an unpacker.
    public init(options: LayerUnpackOptions = LayerUnpackOptions()) {
        self.options = options
    }

    /// Unpacks the layer read from `blobFD` (from its current offset to its end) into `writer`.
    /// - Parameters:
    ///   - blobFD: a readable descriptor of the blob; not closed.
    ///   - layer: the layer's descriptor: media type (compression), digest and size.
    ///   - diffID: the layer's diff_id from the image config.
    ///   - writer: the destination; the caller calls ``RootfsWriter/beginLayer()`` before
    ///     (for a chain) and ``RootfsWriter/finish()`` after.
    /// - Throws: ``LayerError``: the verification codes above, ``LayerError/Code/unsupportedMediaType``,
    ///   ``LayerError/Code/compressionMismatch``, ``LayerError/Code/corruptLayer``,
    ///   ``LayerError/Code/truncatedLayer``, ``LayerError/Code/layerTooLarge``, or a writer
    ///   error, each naming the layer.
    @discardableResult
    public func unpack(blobFD: Int32, layer: Descriptor, diffID: Digest, into writer: RootfsWriter) throws -> LayerUnpackResult {
        guard let compression = MediaType.layerCompression(layer.mediaType) else {
            throw LayerError(.unsupportedMediaType, "layer \(layer.digest) has media type \(layer.mediaType), which is not a tar layer Kujira can unpack")
        }
        let name = "layer \(layer.digest)"
        let stage = BlobStage(fd: blobFD, layer: layer, compression: compression, limit: options.maxUncompressedBytes, name: name)
        let diffHasher = DigestHasherBox(diffID.algorithm)
        var readerOptions = TarReader.Options()
        readerOptions.name = name
        readerOptions.bufferSize = options.bufferSize
        var entries = 0
        do {
            if options.pipelined {
                entries = try unpackPipelined(stage, diffHasher: diffHasher, readerOptions: readerOptions, writer: writer, layer: layer)
            } else {
                let decompressed = try stage.open()
                let source = ObservingSource(decompressed) { diffHasher.update($0) }
                entries = try Self.apply(source, readerOptions: readerOptions, to: writer, layer: layer)
                try stage.drainBlob()
            }
        } catch {
            throw Self.wrap(error, layer: layer)
        }
        return try verify(stage: stage, diffHasher: diffHasher, layer: layer, diffID: diffID, entries: entries)
    }

    private func unpackPipelined(_ stage: BlobStage, diffHasher: DigestHasherBox, readerOptions: TarReader.Options,
                                 writer: RootfsWriter, layer: Descriptor) throws -> Int {
        let queue = ChunkQueue(slotCount: options.queueDepth, slotSize: options.bufferSize)
        let producer = try JoinableThread(ProducerJob {
            do {
                let source = try stage.open()
                while let slot = queue.acquireEmpty() {
                    let n = try source.readFully(into: slot)
                    if n == 0 { break }
                    queue.publish(length: n)
                    if n < slot.count { break }
                }
                try stage.drainBlob()
                queue.finish(error: nil)
            } catch {
                queue.finish(error: error)
            }
        })
        let source = ChunkQueueSource(queue, hasher: diffHasher)
        let result: Result<Int, any Error>
        do {
            result = .success(try Self.apply(source, readerOptions: readerOptions, to: writer, layer: layer))
        } catch {
            queue.cancel()
            result = .failure(error)
        }
        producer.join()
        return try result.get()
    }

    /// Applies every entry, then reads the stream to its end so the diff_id covers it all.
    private static func apply(_ source: any ByteSource, readerOptions: TarReader.Options, to writer: RootfsWriter,
                              layer: Descriptor) throws -> Int {
        let framing = TarFramingSource(source)
        let reader = TarReader(framing, options: readerOptions)
        framing.reader = reader
        var entries = 0
        while let entry = try reader.next() {
            entries += 1
            let layerEntry = try Self.layerEntry(entry, layer: layer)
            if case .regular = layerEntry.kind {
                try writer.apply(layerEntry) { fd in
                    try reader.forEachContentChunk { chunk in try Self.writeAll(fd, chunk, entry: entry.path) }
                }
            } else {
                try writer.apply(layerEntry)
            }
        }
        try reader.drainSource()
        return entries
    }

    /// The writer's view of a tar entry.
    static func layerEntry(_ entry: TarEntry, layer: Descriptor) throws -> LayerEntry {
        guard let layerEntry = LayerEntry(tarEntry: entry) else {
            // umoci and containerd refuse unknown types too: guessing could drop content.
            throw LayerError(.unsupportedEntry, "layer \(layer.digest) has entry \(entry.path) of unsupported tar type \(Self.typeFlag(entry)) (GNU sparse or vendor extension); rebuild the layer with a standard tar")
        }
        return layerEntry
    }

    /// The raw type flag of an entry of a type ``LayerEntry/Kind`` has no case for.
    static func typeFlag(_ entry: TarEntry) -> String {
        if case .other(let flag) = entry.type { return "\(flag)" }
        return "?"
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, entry: String) throws {
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = write(fd, base, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw LayerError.system("writing file content", Array(entry.utf8), errno: errno)
            }
            base += n
            left -= n
        }
    }

    private func verify(stage: BlobStage, diffHasher: DigestHasherBox, layer: Descriptor, diffID expected: Digest,
                        entries: Int) throws -> LayerUnpackResult {
        let compressedSize = stage.hasher.total
        guard let digest = stage.hasher.finalize(), let diffID = diffHasher.finalize() else {
            throw LayerError(.corruptLayer, "layer \(layer.digest) was not read to its end; unpack it again")
        }
        if layer.size >= 0 && compressedSize != UInt64(layer.size) {
            throw LayerError(.sizeMismatch, "layer \(layer.digest): size check failed: the descriptor says \(layer.size) bytes, the blob has \(compressedSize); the blob is corrupt or the manifest is wrong — pull the image again")
        }
        if digest != layer.digest {
            throw LayerError(.digestMismatch, "layer \(layer.digest): compressed digest check failed: the blob hashes to \(digest); the blob is corrupt or tampered with — pull the image again")
        }
        if diffID != expected {
            throw LayerError(.diffIDMismatch, "layer \(layer.digest): diff_id check failed: the image config says \(expected), the uncompressed layer hashes to \(diffID); the image is corrupt or tampered with — do not use it")
        }
        return LayerUnpackResult(digest: digest, compressedSize: Int64(compressedSize), diffID: diffID,
                                 uncompressedSize: diffHasher.total, entries: entries)
    }

    /// Names the layer in errors from the archive and writer layers.
    static func wrap(_ error: any Error, layer: Descriptor) -> any Error {
        if let error = error as? LayerError {
            if error.message.contains("layer \(layer.digest)") { return error }
            return LayerError(error.code, "layer \(layer.digest): \(error.message)", cause: error.cause)
        }
        if let error = error as? ArchiveError {
            let code: LayerError.Code
            switch error.code {
            case .truncated: code = .truncatedLayer
            case .limitExceeded: code = .layerTooLarge
            default: code = .corruptLayer
            }
            return LayerError(code, "layer \(layer.digest): \(error.message)", cause: error.cause)
        }
        return LayerError(.corruptLayer, "layer \(layer.digest) could not be unpacked", cause: error)
    }
}

extension LayerError.Code {
    /// A layer blob whose digest differs from its descriptor's.
    public static let digestMismatch = Self("digestMismatch")
    /// A layer blob whose size differs from its descriptor's.
    public static let sizeMismatch = Self("sizeMismatch")
    /// An uncompressed layer whose digest differs from the config's diff_id.
    public static let diffIDMismatch = Self("diffIDMismatch")
    /// A layer whose bytes do not start with the magic of the compression its media type names.
    public static let compressionMismatch = Self("compressionMismatch")
    /// A descriptor whose media type is not a tar layer.
    public static let unsupportedMediaType = Self("unsupportedMediaType")
    /// A tar entry of a type the unpacker does not create.
    public static let unsupportedEntry = Self("unsupportedEntry")
    /// A layer whose compressed or tar stream is malformed.
    public static let corruptLayer = Self("corruptLayer")
    /// A layer whose stream ends early.
    public static let truncatedLayer = Self("truncatedLayer")
    /// A layer that decompresses past ``LayerUnpackOptions/maxUncompressedBytes``.
    public static let layerTooLarge = Self("layerTooLarge")
}

/// Supplies the zero padding and end-of-archive blocks that some writers leave out, as Go's
/// `archive/tar` (and so umoci, containerd and Docker) tolerates: umoci 0.4's own layers end
/// right after the last file's content. Only when the stream ends where the reader is
/// skipping padding (no content outstanding) are the missing zeros supplied; an end inside
/// content is still a truncation error. The synthesized bytes are not hashed: the diff_id is
/// computed upstream of this source.
final class TarFramingSource: ByteSource {
    private let upstream: any ByteSource
    weak var reader: TarReader?
    private var total: UInt64 = 0
    private var synthesized = 0
    private var ended = false

    init(_ upstream: any ByteSource) { self.upstream = upstream }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !ended {
            let n = try upstream.read(into: buffer)
            if n > 0 { total += UInt64(n); return n }
            ended = true
            let partial = Int(total % 512)
            if partial != 0 && reader?.remainingContent == 0 { synthesized = 512 - partial + 1024 }
        }
        let n = min(synthesized, buffer.count)
        if n > 0 { buffer.baseAddress?.initializeMemory(as: UInt8.self, repeating: 0, count: n) }
        synthesized -= n
        return n
    }
}

/// The blob side of an unpack: reading, hashing, magic check and decompression. Used by
/// exactly one thread at a time (the producer thread when pipelined).
final class BlobStage: @unchecked Sendable {
    let hasher: DigestHasherBox
    private let raw: any ByteSource
    private let layer: Descriptor
    private let compression: LayerCompression
    private let limit: UInt64
    private let name: String

    init(fd: Int32, layer: Descriptor, compression: LayerCompression, limit: UInt64, name: String) {
        let hasher = DigestHasherBox(layer.digest.algorithm)
        self.hasher = hasher
        self.raw = ObservingSource(FileDescriptorSource(fd: fd, name: name)) { hasher.update($0) }
        self.layer = layer
        self.compression = compression
        self.limit = limit
        self.name = name
    }

    /// The decompressed stream, after checking that the blob starts with the magic of the
    /// compression its media type names.
    func open() throws -> any ByteSource {
        let (detected, source) = try Compression.detect(peeking: raw)
        let expected: Compression
        switch compression {
        case .none: expected = .none
        case .gzip: expected = .gzip
        case .zstd: expected = .zstd
        }
        if detected != expected {
            throw LayerError(.compressionMismatch, "layer \(layer.digest) has media type \(layer.mediaType) but its bytes are \(detected == .none ? "not \(expected)" : detected.description); the manifest or the blob is wrong — pull the image again")
        }
        return try decompressingSource(source, compression: expected, maxDecompressedBytes: limit, name: name)
    }

    /// Reads whatever the decompressor left of the blob, so its digest covers every byte.
    func drainBlob() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while try raw.read(into: buffer) > 0 {}
    }
}

/// A closure run once on a ``JoinableThread``. `@unchecked Sendable`: the closure's captures
/// are handed to the new thread and not touched by the starting thread until ``JoinableThread/join()``.
final class ProducerJob: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// A POSIX thread that must be joined: the producer of a pipelined unpack.
struct JoinableThread: ~Copyable {
    private var thread: pthread_t

    init(_ job: ProducerJob) throws {
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let job = Unmanaged<ProducerJob>.fromOpaque(raw).takeRetainedValue()
            job.body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<ProducerJob>.fromOpaque(context).release()
            throw LayerError(.systemCallFailed, "cannot start the layer decompression thread", cause: LayerError.Errno(rc))
        }
        self.thread = thread
    }

    /// Waits for the thread to end.
    consuming func join() {
        pthread_join(thread, nil)
    }
}
