import Glibc

/// A push-based destination for bytes: the output side of every stream in `KujiraArchive`.
///
/// Sinks are classes (not `Sendable`) so that a compressor can wrap another sink. Call
/// ``finish()`` once after the last write: compressors emit their trailer there, and a file
/// sink only flushes nothing (it writes through).
public protocol ByteSink: AnyObject {
    /// Writes all of `bytes` (a sink never performs a short write).
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Ends the stream: flushes buffered data and writes any trailer, then finishes the
    /// downstream sink if there is one. Further writes are errors.
    func finish() throws
}

extension ByteSink {
    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Writes all of `bytes` to `fd`, retrying on `EINTR` and after short writes.
func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, name: String) throws {
    guard var base = bytes.baseAddress else { return }
    var left = bytes.count
    while left > 0 {
        let n = Glibc.write(fd, base, left)
        if n < 0 {
            if errno == EINTR { continue }
            throw ArchiveError.system("cannot write to \(name)")
        }
        if n == 0 { throw ArchiveError(.io, "cannot write to \(name): the write made no progress") }
        base += n
        left -= n
    }
}

/// Writes to a file descriptor with `write(2)`, retrying on `EINTR` and short writes.
///
/// Writes go straight through (no buffering); write in large chunks. The descriptor is not
/// closed unless `closeOnDeinit` is set.
public final class FileDescriptorSink: ByteSink {
    /// The descriptor written to.
    public let fd: Int32
    private let name: String
    private let closeOnDeinit: Bool

    /// Wraps `fd`.
    /// - Parameters:
    ///   - fd: an open, writable descriptor.
    ///   - name: how errors name the file.
    ///   - closeOnDeinit: close `fd` when this sink is released.
    public init(fd: Int32, name: String = "file descriptor", closeOnDeinit: Bool = false) {
        self.fd = fd
        self.name = name
        self.closeOnDeinit = closeOnDeinit
    }

    /// Creates (or truncates) `path` with `O_CLOEXEC` and `mode`; closed on release.
    public convenience init(path: String, mode: UInt32 = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        if fd < 0 { throw ArchiveError.system("cannot create \(path)") }
        self.init(fd: fd, name: path, closeOnDeinit: true)
    }

    deinit {
        if closeOnDeinit { close(fd) }
    }

    /// Writes all of `bytes` to the descriptor.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try writeAll(fd: fd, bytes, name: name)
    }

    /// Does nothing: writes are not buffered. The descriptor stays open.
    public func finish() throws {}
}

/// Collects written bytes in memory.
public final class MemorySink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty sink.
    public init() {}

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }

    /// Does nothing.
    public func finish() throws {}
}

/// Shows every byte written to a downstream sink to an observer first: the hook for hashing
/// what is written (for example the compressed layer and its uncompressed diff).
public final class ObservingSink: ByteSink {
    private let downstream: any ByteSink
    private let observer: (UnsafeRawBufferPointer) -> Void

    /// Wraps `downstream`, calling `observer` with each chunk before passing it on.
    public init(_ downstream: any ByteSink, observer: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.downstream = downstream
        self.observer = observer
    }

    /// Observes, then writes downstream.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count > 0 { observer(bytes) }
        try downstream.write(bytes)
    }

    /// Finishes the downstream sink.
    public func finish() throws { try downstream.finish() }
}
