import Glibc

/// Writes a tar stream to a ``ByteSink``: plain ustar headers when the fields fit, and a
/// PAX extended header first when they do not (long or non-ASCII paths and link names,
/// long owner names, ids, sizes or mtimes beyond octal, xattrs, sub-second mtimes when
/// ``Options/subsecondMtime`` is on). The PAX layout follows Go's archive/tar, which
/// BuildKit and umoci use: records sorted by key, an `x` header named
/// `dir/PaxHeaders.0/file` with zero mode, ids and mtime.
///
/// Output is deterministic: the same entries and content give the same bytes (no atime or
/// ctime, fixed field formatting, no record-size padding beyond the two zero blocks).
///
/// ```swift
/// let writer = TarWriter(FileDescriptorSink(fd: out))
/// try writer.writeEntry(TarEntry(path: "etc/", type: .directory, mode: 0o755))
/// try writer.writeEntry(TarEntry(path: "etc/hostname", type: .regular), content: Array("box\n".utf8))
/// try writer.finish()
/// ```
///
/// A class, not `Sendable`; buffers output (256 KiB) and writes it in large chunks.
public final class TarWriter {
    /// Output choices.
    public struct Options: Sendable {
        /// Write sub-second mtimes as PAX `mtime` records (otherwise they are truncated to
        /// whole seconds, which keeps most headers plain ustar).
        public var subsecondMtime = false
        /// The output buffer size.
        public var bufferSize = 256 * 1024
        /// Creates the default options.
        public init() {}
    }

    private let sink: any ByteSink
    private let options: Options
    private let buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    private var contentRemaining: Int64 = 0
    private var paddingPending = 0
    private var currentPath = ""
    private var finished = false

    /// Creates a writer over `sink`.
    public init(_ sink: any ByteSink, options: Options = Options()) {
        self.sink = sink
        self.options = options
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(options.bufferSize, 4096), alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { buffer.deallocate() }

    // MARK: Output buffer

    private func flush() throws {
        if used > 0 { try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<used])) }
        used = 0
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if used == buffer.count { try flush() }
            let n = min(rest.count, buffer.count - used)
            UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            used += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    private func emitZeros(_ count: Int) throws {
        var left = count
        while left > 0 {
            if used == buffer.count { try flush() }
            let n = min(left, buffer.count - used)
            UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + n)]).initializeMemory(as: UInt8.self, repeating: 0)
            used += n
            left -= n
        }
    }

    private func misuse(_ why: String) -> ArchiveError {
        ArchiveError(.invalidArgument, "tar writer: \(why)")
    }

    private func closeEntry() throws {
        guard contentRemaining == 0 else {
            throw misuse("entry \(currentPath) still needs \(contentRemaining) bytes of content; write all of its size before the next entry")
        }
        try emitZeros(paddingPending)
        paddingPending = 0
    }

    // MARK: Entries

    /// Writes the header(s) of `entry`. For a regular (or `other`) entry, exactly
    /// `entry.size` bytes of content must follow through ``writeContent(_:)`` or
    /// ``writeContent(fromFD:name:)``; other types carry none (their size is written as 0).
    public func writeHeader(_ entry: TarEntry) throws {
        guard !finished else { throw misuse("writeHeader(\(entry.path)) after finish()") }
        try closeEntry()
        let blocks = try TarHeaderEncoder.encode(entry, subsecondMtime: options.subsecondMtime)
        try blocks.withUnsafeBytes { try emit($0) }
        currentPath = entry.path
        contentRemaining = entry.type.isHeaderOnly ? 0 : entry.size
        paddingPending = TarReader.padding(contentRemaining)
    }

    /// Writes part of the current entry's content.
    public func writeContent(_ bytes: UnsafeRawBufferPointer) throws {
        guard Int64(bytes.count) <= contentRemaining else {
            throw misuse("\(bytes.count) bytes of content for \(currentPath) exceed the \(contentRemaining) bytes left of its declared size")
        }
        try emit(bytes)
        contentRemaining -= Int64(bytes.count)
    }

    /// Writes part of the current entry's content.
    public func writeContent(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeContent($0) }
    }

    /// Reads the rest of the current entry's content from `fd` (read(2), EINTR-safe),
    /// straight into the output buffer. The file must hold at least the declared size;
    /// a file that ends early is an ``ArchiveError/Code/unsupportedFile`` error (it changed
    /// while being archived). Bytes past the declared size are not read.
    public func writeContent(fromFD fd: Int32, name: String) throws {
        while contentRemaining > 0 {
            if used == buffer.count { try flush() }
            let room = Int(min(Int64(buffer.count - used), contentRemaining))
            guard let base = buffer.baseAddress else { return }
            let n = Glibc.read(fd, base + used, room)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.system("cannot read \(name) while archiving it")
            }
            if n == 0 {
                throw ArchiveError(.unsupportedFile, "\(name) ended \(contentRemaining) bytes before its size at stat time; it changed while being archived — retry when it is not being written")
            }
            used += n
            contentRemaining -= Int64(n)
        }
    }

    /// Writes a whole entry: its header, then `content` (whose length sets the size of a
    /// regular entry).
    public func writeEntry(_ entry: TarEntry, content: [UInt8] = []) throws {
        var entry = entry
        if !entry.type.isHeaderOnly { entry.size = Int64(content.count) }
        try writeHeader(entry)
        if !entry.type.isHeaderOnly { try writeContent(content) }
    }

    /// Pads the last entry, writes the two zero blocks that end an archive, flushes, and
    /// finishes the sink (which writes a compressor's trailer).
    public func finish() throws {
        guard !finished else { return }
        try closeEntry()
        try emitZeros(2 * TarLayout.blockSize)
        finished = true
        try flush()
        try sink.finish()
    }
}
