internal import CZlib

/// Compresses what is written to it as one gzip member (zlib `deflate`, window bits 15+16)
/// into a downstream sink.
///
/// Deterministic: the header has no file name and a zero mtime, so equal input and level
/// give equal bytes — what reproducible layers need. Not `Sendable`.
public final class GzipCompressor: ByteSink {
    /// zlib's default level.
    public static let defaultLevel = 6

    private let downstream: any ByteSink
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// Wraps `downstream`.
    /// - Parameter level: 0 (store) … 9 (best).
    public init(_ downstream: any ByteSink, level: Int = GzipCompressor.defaultLevel) throws {
        guard (0...9).contains(level) else {
            throw ArchiveError(.invalidArgument, "gzip level \(level) is out of range; use 0…9")
        }
        self.downstream = downstream
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        let rc = deflateInit2_(stream, Int32(level), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                               zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if rc != Z_OK {
            stream.deallocate()
            output.deallocate()
            throw ArchiveError(.io, "cannot initialise zlib deflate (deflateInit2 returned \(rc))")
        }
        resetOutput()
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    private func resetOutput() {
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
    }

    private func flushOutput() throws {
        let n = output.count - Int(stream.pointee.avail_out)
        if n > 0 { try downstream.write(UnsafeRawBufferPointer(rebasing: output[0..<n])) }
        resetOutput()
    }

    /// Compresses `bytes`, writing full output buffers downstream.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError(.invalidArgument, "write to a gzip stream after finish()") }
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let chunk = min(bytes.count - done, 1 << 30)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (base + done).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(chunk)
            while stream.pointee.avail_in > 0 {
                let rc = deflate(stream, Z_NO_FLUSH)
                if rc != Z_OK && rc != Z_BUF_ERROR {
                    throw ArchiveError(.io, "zlib deflate failed with code \(rc)")
                }
                if stream.pointee.avail_out == 0 { try flushOutput() }
            }
            done += chunk
        }
    }

    /// Writes the gzip trailer and finishes the downstream sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        stream.pointee.avail_in = 0
        while true {
            let rc = deflate(stream, Z_FINISH)
            if rc == Z_STREAM_END { break }
            if rc != Z_OK && rc != Z_BUF_ERROR {
                throw ArchiveError(.io, "zlib deflate failed with code \(rc) while finishing")
            }
            try flushOutput()
        }
        try flushOutput()
        try downstream.finish()
    }
}
