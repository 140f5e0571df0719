public import KujiraOCI
import Glibc

/// A verified, content-addressed blob store (containerd's `content` package is the model).
///
/// Blobs live at `<root>/blobs/<algorithm>/<hex>`; writes go through an ingest in
/// `<root>/ingest/` (see ``ingest(expectedDigest:expectedSize:)``), so a half-written or
/// unverified blob is never visible under its digest. The store is just a root path: any
/// number of instances, threads and processes may use the same root at once.
///
/// ```swift
/// let content = try ContentStore(root: "/var/lib/kujira")
/// let config = try content.write(configJSON, mediaType: MediaType.imageConfig)
/// let bytes = try content.read(config.digest)   // verified against the digest
/// ```
public struct ContentStore: Sendable {
    /// The root directory.
    public let root: String

    /// The directory of blobs, `<root>/blobs`.
    public var blobsDirectory: String { "\(root)/blobs" }
    /// The directory of in-progress writes, `<root>/ingest`.
    public var ingestDirectory: String { "\(root)/ingest" }

    /// Opens the store at `root`, creating `blobs/sha256`, `blobs/sha512` and `ingest`.
    /// - Throws: ``ImageStoreError`` `.io` if the directories cannot be created.
    public init(root: String) throws {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        for algorithm in Digest.Algorithm.allCases {
            try FileSystem.makeDirectories("\(blobsDirectory)/\(algorithm.rawValue)")
        }
        try FileSystem.makeDirectories(ingestDirectory)
    }

    /// The path where the blob `digest` is (or would be) stored.
    public func path(of digest: Digest) -> String {
        "\(blobsDirectory)/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    /// Whether the blob `digest` is in the store.
    public func contains(_ digest: Digest) -> Bool {
        var st = stat()
        return stat(path(of: digest), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The size in bytes of the blob `digest`.
    /// - Throws: ``ImageStoreError`` `.blobNotFound` if it is not in the store.
    public func size(of digest: Digest) throws -> Int64 {
        var st = stat()
        let path = path(of: digest)
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw notFound(digest) }
            throw ImageStoreError.posix("stat", path: path, errno: errno)
        }
        return Int64(st.st_size)
    }

    /// Stores `bytes` and returns their descriptor.
    ///
    /// - Parameters:
    ///   - mediaType: the media type to put in the returned descriptor.
    ///   - expected: when given, the bytes must hash to it (its algorithm is used).
    /// - Throws: ``ImageStoreError`` `.digestMismatch` when `expected` does not match; the
    ///   store is left unchanged.
    @discardableResult
    public func write(_ bytes: [UInt8], mediaType: String, expected: Digest? = nil) throws -> Descriptor {
        let writer = try ingest(expectedDigest: expected, expectedSize: expected == nil ? nil : Int64(bytes.count))
        do {
            try bytes.withUnsafeBytes { try writer.write($0) }
            let (digest, size) = try writer.commit()
            return Descriptor(mediaType: mediaType, digest: digest, size: size)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Reads a whole blob into memory, verifying that it hashes to `digest`. Meant for the
    /// small JSON documents (manifests, indexes, configs) that are parsed right after.
    /// - Throws: ``ImageStoreError`` `.blobNotFound`, or `.digestMismatch` for a tampered blob.
    public func read(_ digest: Digest) throws -> [UInt8] {
        let fd = try openForReading(digest)
        defer { close(fd) }
        let path = path(of: digest)
        let bytes = try FileSystem.readAll(fd, path: path, sizeHint: Int(try FileSystem.fileSize(fd, path: path)))
        let actual = Digest.of(bytes, algorithm: digest.algorithm)
        guard actual == digest else { throw corrupt(digest, actual: actual) }
        return bytes
    }

    /// Opens the blob `digest` for reading (`O_RDONLY | O_CLOEXEC`). The caller closes the
    /// descriptor. The content is not verified here; use ``verify(_:)`` or hash while reading.
    /// - Throws: ``ImageStoreError`` `.blobNotFound` if it is not in the store.
    public func openForReading(_ digest: Digest) throws -> Int32 {
        let path = path(of: digest)
        while true {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            let code = errno
            if code == EINTR { continue }
            if code == ENOENT { throw notFound(digest) }
            throw ImageStoreError.posix("open", path: path, errno: code)
        }
    }

    /// Re-hashes the blob `digest` from disk.
    /// - Throws: ``ImageStoreError`` `.digestMismatch`, naming the digest and the path, when
    ///   the file on disk no longer hashes to its name; `.blobNotFound` if it is missing.
    public func verify(_ digest: Digest) throws {
        let fd = try openForReading(digest)
        defer { close(fd) }
        let path = path(of: digest)
        var hasher = DigestHasher(digest.algorithm)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileSystem.read(fd, into: $0, path: path) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        let actual = hasher.finalize()
        guard actual == digest else { throw corrupt(digest, actual: actual) }
    }

    /// Removes the blob `digest`. Returns `false` if it was not there.
    /// Callers that remove blobs an image may still need should hold the image store's
    /// exclusive lock (``ImageStore/garbageCollect(ingestOlderThan:)`` does).
    @discardableResult
    public func delete(_ digest: Digest) throws -> Bool {
        let path = path(of: digest)
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw ImageStoreError.posix("unlink", path: path, errno: errno)
    }

    /// The digests of every blob in the store, sorted. Files whose names are not valid
    /// digests (left by other tools) are ignored.
    public func list() throws -> [Digest] {
        var digests = [Digest]()
        for algorithm in Digest.Algorithm.allCases {
            for name in try FileSystem.listDirectory("\(blobsDirectory)/\(algorithm.rawValue)") {
                if let digest = try? Digest(algorithm: algorithm, encoded: name) { digests.append(digest) }
            }
        }
        return digests.sorted()
    }

    func notFound(_ digest: Digest) -> ImageStoreError {
        ImageStoreError(.blobNotFound, "blob \(digest) is not in the content store at \(root); pull or import the image that needs it again")
    }

    func corrupt(_ digest: Digest, actual: Digest) -> ImageStoreError {
        ImageStoreError(
            .digestMismatch,
            "blob \(digest) at \(path(of: digest)) is corrupt: its content hashes to \(actual); delete that file and pull or import the image again")
    }
}
