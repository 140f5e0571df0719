internal import CZstd

/// Decompresses a Zstandard stream (`ZSTD_decompressStream`) pulled from an upstream
/// source. Several frames (and skippable frames) are read as one stream; an end of input
/// inside a frame and corrupt blocks are errors.
///
/// The decoder keeps libzstd's default window limit (2^27 bytes), which bounds its memory
/// whatever a frame header claims; streams made with `zstd --long=31` are refused.
/// Not `Sendable`: one reader at a time. Decompresses straight into the caller's buffer.
public final class ZstdDecompressor: ByteSource {
    private let upstream: any ByteSource
    private let dctx: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private let limit: UInt64?
    private let name: String
    private var inputSize = 0
    private var inputPos = 0
    private var upstreamEOF = false
    private var frameComplete = false  // true between frames; false before the first one
    private var produced: UInt64 = 0
    private var consumed: UInt64 = 0

    /// The input buffer size (libzstd's recommended size is 128 KiB).
    public static let inputBufferSize = 256 * 1024

    /// Wraps `upstream`.
    /// - Parameters:
    ///   - maxOutputBytes: fail with ``ArchiveError/Code/limitExceeded`` past this many
    ///     decompressed bytes; `nil` for no limit.
    ///   - name: how errors name the stream.
    public init(_ upstream: any ByteSource, maxOutputBytes: UInt64? = nil, name: String = "zstd stream") throws {
        guard let dctx = ZSTD_createDCtx() else {
            throw ArchiveError(.io, "cannot create a zstd decoder for \(name); the system may be out of memory")
        }
        self.upstream = upstream
        self.dctx = dctx
        self.limit = maxOutputBytes
        self.name = name
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputBufferSize, alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(dctx)
        input.deallocate()
    }

    private var offset: UInt64 { consumed - UInt64(inputSize - inputPos) }

    /// Decompresses into `buffer`; returns 0 after the last complete frame.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            if inputPos == inputSize && !upstreamEOF {
                let n = try upstream.read(into: input)
                if n == 0 { upstreamEOF = true } else { inputSize = n; inputPos = 0; consumed += UInt64(n) }
            }
            let atEnd = inputPos == inputSize && upstreamEOF
            if atEnd && frameComplete { return 0 }
            var outBuffer = ZSTD_outBuffer(dst: out, size: buffer.count, pos: 0)
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: inputSize, pos: inputPos)
            let rc = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
            if ZSTD_isError(rc) != 0 {
                let detail = String(cString: ZSTD_getErrorName(rc))
                throw ArchiveError(.corruptData, "corrupt zstd stream \(name) near compressed offset \(offset): \(detail); the file is damaged — fetch it again")
            }
            inputPos = inBuffer.pos
            frameComplete = rc == 0
            if outBuffer.pos > 0 {
                produced += UInt64(outBuffer.pos)
                if let limit, produced > limit { throw ArchiveError.sizeLimit(name: name, limit: limit) }
                return outBuffer.pos
            }
            if atEnd {
                if frameComplete { return 0 }
                throw ArchiveError(.truncated, "truncated zstd stream \(name) at compressed offset \(offset): the data ends inside a frame; the download or file is incomplete — fetch it again")
            }
        }
    }
}
