public import KujiraOCI
import Glibc

extension ContentStore {
    /// Starts writing a blob. Bytes go to a uniquely named temporary file in the ingest
    /// area while being hashed; ``ContentWriter/commit()`` fsyncs, checks the expected size
    /// and digest, and renames the file into place.
    ///
    /// - Parameters:
    ///   - expectedDigest: the digest the content must have; its algorithm is the one used.
    ///     Without it the content is hashed with SHA-256 and stored under whatever it is.
    ///   - expectedSize: the size the content must have; writing past it fails at once.
    public func ingest(expectedDigest: Digest? = nil, expectedSize: Int64? = nil) throws -> ContentWriter {
        try ContentWriter(store: self, expectedDigest: expectedDigest, expectedSize: expectedSize)
    }

    /// Copies the file at `path` into the store, verifying it against `expected` and
    /// `expectedSize` when given.
    @discardableResult
    public func ingest(copyingFile path: String, expected: Digest? = nil, expectedSize: Int64? = nil) throws -> (digest: Digest, size: Int64) {
        let fd = try FileSystem.open(path, O_RDONLY)
        defer { close(fd) }
        return try ingest(fromFD: fd, path: path, expected: expected, expectedSize: expectedSize)
    }

    /// Reads `fd` to its end into the store, verifying against `expected` and `expectedSize`
    /// when given. The descriptor is not closed. `path` only names the source in errors.
    @discardableResult
    public func ingest(fromFD fd: Int32, path: String = "<fd>", expected: Digest? = nil, expectedSize: Int64? = nil) throws -> (digest: Digest, size: Int64) {
        let writer = try ingest(expectedDigest: expected, expectedSize: expectedSize)
        do {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try FileSystem.read(fd, into: $0, path: path) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            return try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Removes temporary files left in the ingest area by writers that died (`kill -9`,
    /// power loss) and whose last write is older than `age`. A file whose writer is still
    /// alive is never removed, whatever its age: live writers hold an `flock` on it.
    /// - Returns: the number of files removed.
    @discardableResult
    public func cleanIngest(olderThan age: Duration) throws -> Int {
        // Not time(nil): it reads the coarse clock, which lags the fine-grained timestamps the
        // kernel (6.13+, multigrain) may give a file just written — a file could look as if it
        // were written in the future.
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let now = clock.tv_sec
        let ageSeconds = Int(age.components.seconds)
        var removed = 0
        for name in try FileSystem.listDirectory(ingestDirectory) {
            let path = "\(ingestDirectory)/\(name)"
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }  // gone already, or not ours to open
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            guard now - st.st_mtim.tv_sec >= ageSeconds else { continue }
            // A writer holds LOCK_EX until it commits or aborts; the kernel drops it when the
            // writer dies, so a lock we can take marks an abandoned file.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }
}

/// An in-progress blob write, from ``ContentStore/ingest(expectedDigest:expectedSize:)``.
///
/// Call ``write(_:)`` any number of times, then ``commit()`` or ``abort()``. A writer that
/// is dropped without either removes its temporary file. Not thread-safe: one writer is used
/// by one task at a time.
public final class ContentWriter {
    /// The store being written to.
    public let store: ContentStore
    /// The digest the content must have, if known.
    public let expectedDigest: Digest?
    /// The size the content must have, if known.
    public let expectedSize: Int64?
    /// The path of the temporary file in the ingest area.
    public let temporaryPath: String
    /// The number of bytes written so far.
    public private(set) var written: Int64 = 0

    private var fd: Int32
    private var hasher: DigestHasher?

    init(store: ContentStore, expectedDigest: Digest?, expectedSize: Int64?) throws {
        self.store = store
        self.expectedDigest = expectedDigest
        self.expectedSize = expectedSize
        let hint = expectedDigest.map { String($0.encoded.prefix(12)) } ?? "blob"
        self.temporaryPath = "\(store.ingestDirectory)/\(hint)-\(FileSystem.uniqueSuffix()).tmp"
        self.fd = try FileSystem.open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        // Marks the file as live for cleanIngest in every process (see there).
        _ = flock(fd, LOCK_EX)
        self.hasher = DigestHasher(expectedDigest?.algorithm ?? .sha256)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporaryPath)
        }
    }

    /// Appends bytes to the blob.
    /// - Throws: ``ImageStoreError`` `.digestMismatch` when the content grows past the expected
    ///   size, `.io` on a failed write; the writer is aborted in both cases.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw finished() }
        if let expectedSize, written + Int64(bytes.count) > expectedSize {
            abort()
            throw ImageStoreError(.digestMismatch, "content for \(expectedName) is larger than the expected \(expectedSize) bytes; the source is corrupt or the descriptor is wrong, so fetch it again")
        }
        do {
            try FileSystem.writeAll(fd, bytes, path: temporaryPath)
        } catch {
            abort()
            throw error
        }
        hasher?.update(bytes)
        written += Int64(bytes.count)
    }

    /// Finishes the blob: fsyncs it, checks the expected size and digest, and moves it into
    /// place (fsyncing the directory). If the blob is already in the store the temporary
    /// file is dropped. Either way the writer is finished.
    /// - Returns: the digest and size of the content.
    /// - Throws: ``ImageStoreError`` `.digestMismatch`, naming the expected and actual digests,
    ///   when the content is not what was expected; nothing becomes visible.
    @discardableResult
    public func commit() throws -> (digest: Digest, size: Int64) {
        guard fd >= 0, let hasher = hasher.take() else { throw finished() }
        let digest = hasher.finalize()
        defer { abort() }
        if let expectedSize, written != expectedSize {
            throw ImageStoreError(.digestMismatch, "content for \(expectedName) has \(written) bytes, expected \(expectedSize); the source is truncated or the descriptor is wrong, so fetch it again")
        }
        if let expectedDigest, digest != expectedDigest {
            throw ImageStoreError(.digestMismatch, "content for \(expectedDigest) hashes to \(digest): the source is corrupt or was tampered with; nothing was stored, fetch it again from a good source")
        }
        let target = store.path(of: digest)
        if store.contains(digest) { return (digest, written) }
        try FileSystem.sync(fd, path: temporaryPath)
        // Blobs are immutable: read-only files make an accidental write fail loudly.
        _ = fchmod(fd, 0o444)
        // rename(2) is atomic: concurrent writers of the same blob each rename a complete
        // file with identical content, and a reader sees one of them, never a partial one.
        if rename(temporaryPath, target) != 0 {
            throw ImageStoreError.posix("rename into", path: target, errno: errno)
        }
        try FileSystem.syncDirectory(FileSystem.parentDirectory(of: target))
        return (digest, written)
    }

    /// Abandons the write and removes the temporary file. Safe to call more than once.
    public func abort() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporaryPath)  // fails harmlessly (ENOENT) after a successful rename
        _ = hasher.take()
    }

    private var expectedName: String { expectedDigest?.description ?? "a new blob" }

    private func finished() -> ImageStoreError {
        ImageStoreError(.invalidArgument, "content writer for \(expectedName) was already committed or aborted; start a new ingest")
    }
}
