import Glibc

/// A pull-based source of bytes: the input side of every stream in `KujiraArchive`.
///
/// Sources are classes (reference semantics, not `Sendable`): a stream has one reader at a
/// time, and wrapping one source in another (a decompressor over a file) must not copy
/// state. Callers should read with large buffers (256 KiB–1 MiB); every implementation here
/// reads straight into the caller's buffer where it can.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer` and returns how many were read.
    /// Returns 0 only at the end of the stream (or when `buffer` is empty); a short read is
    /// not the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteSource {
    /// Reads until `buffer` is full or the stream ends; returns the number of bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads the rest of the stream into an array; meant for small streams and tests.
    /// - Parameter limit: the most bytes to accept; more is an ``ArchiveError/Code/limitExceeded`` error.
    public func readAll(limit: Int = Int.max) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return result }
            if result.count + n > limit {
                throw ArchiveError(.limitExceeded, "stream is larger than the \(limit)-byte limit; raise the limit or check the input")
            }
            result.append(contentsOf: chunk[0..<n])
        }
    }
}

/// Reads from a file descriptor with `read(2)`, retrying on `EINTR`.
///
/// The descriptor is not closed unless `closeOnDeinit` is set.
public final class FileDescriptorSource: ByteSource {
    /// The descriptor read from.
    public let fd: Int32
    private let closeOnDeinit: Bool
    private let name: String

    /// Wraps `fd`.
    /// - Parameters:
    ///   - fd: an open, readable descriptor.
    ///   - name: how errors name the file (a path or a description).
    ///   - closeOnDeinit: close `fd` when this source is released.
    public init(fd: Int32, name: String = "file descriptor", closeOnDeinit: Bool = false) {
        self.fd = fd
        self.name = name
        self.closeOnDeinit = closeOnDeinit
    }

    /// Opens `path` read-only with `O_CLOEXEC`; the descriptor is closed on release.
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ArchiveError.system("cannot open \(path) for reading") }
        self.init(fd: fd, name: path, closeOnDeinit: true)
    }

    deinit {
        if closeOnDeinit { close(fd) }
    }

    /// Reads with `read(2)`; `EINTR` is retried.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ArchiveError.system("cannot read \(name)")
        }
    }
}

/// Reads from bytes held in memory.
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    /// Creates a source that yields `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Copies the next bytes into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        if n == 0 { return 0 }
        bytes.withUnsafeBytes { src in
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[position..<(position + n)]))
        }
        position += n
        return n
    }
}

/// Passes every byte read from an upstream source to an observer: the hook for hashing the
/// compressed bytes and the decompressed bytes of a layer while it streams.
///
/// The observer sees each chunk exactly once, in order; it must not keep the pointer.
public final class ObservingSource: ByteSource {
    private let upstream: any ByteSource
    private let observer: (UnsafeRawBufferPointer) -> Void

    /// Wraps `upstream`, calling `observer` with each chunk read from it.
    public init(_ upstream: any ByteSource, observer: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.upstream = upstream
        self.observer = observer
    }

    /// Reads from upstream and shows the bytes to the observer.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        if n > 0 { observer(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }
}

/// Yields a few already-read bytes, then the rest of an upstream source: how compression
/// detection gives back the magic bytes it peeked at.
public final class PrefixedSource: ByteSource {
    private var prefix: [UInt8]
    private var position = 0
    private let upstream: any ByteSource

    /// Yields `prefix`, then `upstream`.
    public init(prefix: [UInt8], upstream: any ByteSource) {
        self.prefix = prefix
        self.upstream = upstream
    }

    /// Reads from the prefix while it lasts, then from upstream.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if position < prefix.count {
            let n = min(buffer.count, prefix.count - position)
            prefix.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[position..<(position + n)]))
            }
            position += n
            if position == prefix.count { prefix = []; position = 0 }
            return n
        }
        return try upstream.read(into: buffer)
    }
}
