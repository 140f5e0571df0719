public import KujiraOCI
import KujiraArchive
import Foundation
import Glibc

extension ImageStore {
    /// `kujira import ROOTFS REF` (`docker import`): makes a one-layer image from a root
    /// file system, given as a directory or as a tar file (plain, gzip or zstd, detected
    /// from its first bytes).
    ///
    /// - A directory is archived with ``KujiraArchive/DirectoryArchiver`` (sorted,
    ///   deterministic; mtimes clamped to `SOURCE_DATE_EPOCH` when it is set).
    /// - A tar file passes byte for byte (decompressed first when compressed), so the
    ///   diff_id is the digest of the tar itself; it is parsed on the way only to reject a
    ///   truncated or non-tar file. Its entries are not sanitised: unpacking is the safety
    ///   boundary.
    ///
    /// The layer is stored gzip-compressed (``LayerWriter``), the config gets `config`,
    /// this host's architecture, OS and variant, one history entry
    /// `created_by: "kujira import"`, and `created` set to now, or to `SOURCE_DATE_EPOCH`
    /// when that is set (so that importing the same directory twice gives the same image
    /// ID). Config and manifest are written with ``CanonicalJSON``; the name is tagged last.
    ///
    /// - Throws: ``ImageStoreError`` `.invalidArgument` (empty name), `.io` (unreadable
    ///   path), `.invalidArchive` (`truncated archive PATH: …` or not a tar).
    @discardableResult
    public func importRootfs(from path: String, name: String, config: ImageConfig) throws -> ImageRecord {
        guard !name.isEmpty else {
            throw ImageStoreError(.invalidArgument, "an image name must not be empty; give a reference such as localhost/rootfs:latest")
        }
        let epoch = try Self.sourceDateEpoch()
        let created: Timestamp
        if let epoch {
            created = Timestamp(secondsSinceEpoch: epoch)
        } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            created = Timestamp(secondsSinceEpoch: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec))
        }
        return try withWriteLease {
            let layer = try LayerWriter(store: content, compression: .gzip)
            do {
                if FileSystem.isDirectory(path) {
                    let tar = TarWriter(layer.sink)
                    try DirectoryArchiver(options: .init(mtimeClamp: epoch)).archive(directory: path, to: tar)
                    try tar.finish()
                } else {
                    try Self.copyTarStream(from: path, to: layer.sink)
                }
            } catch let error as ArchiveError {
                layer.abort()
                if FileSystem.isDirectory(path) {
                    throw ImageStoreError(.io, "cannot import \(path): \(error.message)", cause: error.cause)
                }
                throw ArchiveScanner.archiveError(error, file: path)
            } catch {
                layer.abort()
                throw error
            }
            let (layerDescriptor, diffID) = try layer.commit()
            let host = Platform.host
            let configuration = ImageConfiguration(
                created: created.rfc3339, architecture: host.architecture, os: host.os, variant: host.variant,
                config: config, rootfs: RootFS(diffIDs: [diffID]),
                history: [History(created: created.rfc3339, createdBy: "kujira import")])
            let configDescriptor = try content.write(CanonicalJSON.encode(configuration), mediaType: MediaType.imageConfig)
            let manifest = Manifest(config: configDescriptor, layers: [layerDescriptor])
            let target = try content.write(CanonicalJSON.encode(manifest), mediaType: MediaType.imageManifest)
            return try put(name: name, target: target)
        }
    }

    /// `SOURCE_DATE_EPOCH` as seconds, nil when unset or empty.
    /// - Throws: ``ImageStoreError`` `.invalidArgument` when it is not a number.
    static func sourceDateEpoch() throws -> Int64? {
        guard let raw = getenv("SOURCE_DATE_EPOCH") else { return nil }
        let text = String(cString: raw)
        if text.isEmpty { return nil }
        guard let seconds = Int64(text), seconds >= 0 else {
            throw ImageStoreError(.invalidArgument, "SOURCE_DATE_EPOCH=\(text) is not a number of seconds since the epoch; fix or unset it")
        }
        return seconds
    }

    /// Copies the (decompressed) tar stream in `path` to `sink` byte for byte, parsing it
    /// on the way so that a truncated or non-tar file fails, and finishes `sink`.
    private static func copyTarStream(from path: String, to sink: any ByteSink) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageStoreError.posix("open", path: path, errno: errno) }
        let file = FileDescriptorSource(fd: fd, name: path, closeOnDeinit: true)
        let plain = try decompressingSource(file, compression: nil, name: path)
        let tee = TeeSource(plain, sink: sink)
        var options = TarReader.Options()
        options.name = path
        let reader = TarReader(tee, options: options)
        var entries = 0
        while try reader.next() != nil { entries += 1 }
        guard entries > 0 || tee.bytes > 0 else {
            throw ImageStoreError(.invalidArchive, "cannot import \(path): the file is empty, not a tar archive")
        }
        // The end-of-archive blocks and any record padding belong to the layer too.
        try reader.drainSource()
        try sink.finish()
    }
}

/// Passes every byte read from `upstream` on to a sink as well: the reader validates the
/// stream while the sink stores it unchanged.
final class TeeSource: ByteSource {
    private let upstream: any ByteSource
    private let sink: any ByteSink
    /// The number of bytes passed through so far.
    private(set) var bytes: Int64 = 0

    init(_ upstream: any ByteSource, sink: any ByteSink) {
        self.upstream = upstream
        self.sink = sink
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        if n > 0 {
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            bytes += Int64(n)
        }
        return n
    }
}
