internal import CZstd

/// Compresses what is written to it as one Zstandard frame (with a content checksum, as
/// the `zstd` tool writes) into a downstream sink.
///
/// Deterministic: single-threaded, so equal input and level give equal bytes. Not `Sendable`.
public final class ZstdCompressor: ByteSink {
    /// libzstd's default level.
    public static let defaultLevel = 3

    private let downstream: any ByteSink
    private let cctx: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// Wraps `downstream`.
    /// - Parameter level: 1 … 19 (22 with ultra levels); negative levels are fast modes.
    public init(_ downstream: any ByteSink, level: Int = ZstdCompressor.defaultLevel) throws {
        guard level >= Int(ZSTD_minCLevel()) && level <= Int(ZSTD_maxCLevel()) else {
            throw ArchiveError(.invalidArgument, "zstd level \(level) is out of range; use \(ZSTD_minCLevel())…\(ZSTD_maxCLevel())")
        }
        guard let cctx = ZSTD_createCCtx() else {
            throw ArchiveError(.io, "cannot create a zstd encoder; the system may be out of memory")
        }
        self.downstream = downstream
        self.cctx = cctx
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(ZSTD_CStreamOutSize()), alignment: 16)
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level))
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        output.deallocate()
    }

    private func run(_ bytes: UnsafeRawBufferPointer, directive: ZSTD_EndDirective) throws {
        var inBuffer = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let rc = ZSTD_compressStream2(cctx, &outBuffer, &inBuffer, directive)
            if ZSTD_isError(rc) != 0 {
                throw ArchiveError(.io, "zstd compression failed: \(String(cString: ZSTD_getErrorName(rc)))")
            }
            if outBuffer.pos > 0 {
                try downstream.write(UnsafeRawBufferPointer(rebasing: output[0..<outBuffer.pos]))
            }
            let done = directive == ZSTD_e_end ? rc == 0 : inBuffer.pos == inBuffer.size
            if done { return }
        }
    }

    /// Compresses `bytes`, writing output downstream as it fills.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError(.invalidArgument, "write to a zstd stream after finish()") }
        if bytes.count > 0 { try run(bytes, directive: ZSTD_e_continue) }
    }

    /// Ends the frame and finishes the downstream sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try run(UnsafeRawBufferPointer(start: nil, count: 0), directive: ZSTD_e_end)
        try downstream.finish()
    }
}
