import KujiraArchive
import KujiraOCI
import Glibc

/// Writes an image archive (a deterministic tar) to a file, atomically: into a temporary
/// file beside the destination, renamed over it only when complete, so a failed save
/// leaves no half-written archive. When the destination exists and is not a regular file
/// (`/dev/stdout`, a FIFO) it is written in place instead.
///
/// Entries are written in the order given; callers sort them. Every header has mtime 0,
/// uid/gid 0, no owner names, mode 0644 (files) or 0755 (directories), so that saving the
/// same images twice gives identical bytes.
final class ArchiveFileWriter {
    let file: String
    private let temporary: String?
    private let fd: Int32
    private let tar: TarWriter
    private var done = false

    init(file: String) throws {
        self.file = file
        var st = stat()
        if stat(file, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            temporary = nil
            fd = try FileSystem.open(file, O_WRONLY)
        } else {
            let path = "\(FileSystem.parentDirectory(of: file))/.\(FileSystem.baseName(of: file)).kujira-\(FileSystem.uniqueSuffix()).tmp"
            temporary = path
            fd = try FileSystem.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        }
        tar = TarWriter(FileDescriptorSink(fd: fd, name: temporary ?? file))
    }

    deinit {
        close(fd)
        if !done, let temporary { unlink(temporary) }
    }

    /// A directory entry (`path` without the trailing `/`).
    func addDirectory(_ path: String) throws {
        try mapped { try tar.writeEntry(TarEntry(path: "\(path)/", type: .directory, mode: 0o755)) }
    }

    /// A regular file holding `bytes`.
    func addFile(_ path: String, _ bytes: [UInt8]) throws {
        try mapped { try tar.writeEntry(TarEntry(path: path, type: .regular, mode: 0o644), content: bytes) }
    }

    /// A regular file of `size` bytes whose content `body` then writes through `write`.
    func addFile(_ path: String, size: Int64, body: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try mapped { try tar.writeHeader(TarEntry(path: path, type: .regular, mode: 0o644, size: size)) }
        try body { chunk in try self.mapped { try self.tar.writeContent(chunk) } }
    }

    /// A regular file holding the blob `descriptor` from `content`, verified against its
    /// digest and size while it is copied.
    func addBlob(_ path: String, _ descriptor: Descriptor, from content: ContentStore, image: String) throws {
        let size = try content.size(of: descriptor.digest)
        guard size == descriptor.size else {
            throw ImageStoreError(.digestMismatch, "blob \(descriptor.digest) of image \(image) has \(size) bytes but its descriptor says \(descriptor.size); the image record is wrong, pull or import the image again")
        }
        try addFile(path, size: size) { write in
            let actual = try Self.stream(descriptor.digest, from: content, to: write)
            guard actual == descriptor.digest else { throw content.corrupt(descriptor.digest, actual: actual) }
        }
    }

    /// Streams the blob `digest` from `content` to `write`; returns the digest of what was read.
    static func stream(_ digest: Digest, from content: ContentStore, to write: (UnsafeRawBufferPointer) throws -> Void) throws -> Digest {
        let fd = try content.openForReading(digest)
        defer { close(fd) }
        let path = content.path(of: digest)
        let hasher = StreamHasher(digest.algorithm)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileSystem.read(fd, into: $0, path: path) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { all in
                let chunk = UnsafeRawBufferPointer(rebasing: all[0..<n])
                hasher.update(chunk)
                try write(chunk)
            }
        }
        guard let actual = hasher.finalize() else { throw ImageStoreError(.io, "hash of \(path) was finalised twice") }
        return actual
    }

    /// Ends the archive, syncs it and moves it into place.
    func commit() throws {
        try mapped { try tar.finish() }
        if let temporary {
            try FileSystem.sync(fd, path: temporary)
            if rename(temporary, file) != 0 { throw ImageStoreError.posix("rename into", path: file, errno: errno) }
            try FileSystem.syncDirectory(FileSystem.parentDirectory(of: file))
        }
        done = true
    }

    private func mapped(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ArchiveError {
            throw ImageStoreError(.io, "cannot write archive \(file): \(error.message)", cause: error.cause)
        }
    }
}
