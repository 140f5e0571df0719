internal import CZlib

/// Decompresses a gzip stream (zlib `inflate`, window bits 15+32) pulled from an upstream
/// source. Concatenated members (as `pigz` and `cat a.gz b.gz` produce) are read as one
/// stream; bytes after a member that are not another gzip member, an end of input before
/// a member's trailer, and bad CRCs are errors.
///
/// Not `Sendable`: one reader at a time. Decompresses straight into the caller's buffer.
public final class GzipDecompressor: ByteSource {
    private let upstream: any ByteSource
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private let limit: UInt64?
    private let name: String
    private var upstreamEOF = false
    private var memberEnded = false
    private var finished = false
    private var produced: UInt64 = 0
    private var consumed: UInt64 = 0  // compressed bytes handed to zlib before the current buffer

    /// The input buffer size: big reads keep syscalls and call overhead out of the profile.
    public static let inputBufferSize = 256 * 1024

    /// Wraps `upstream`.
    /// - Parameters:
    ///   - maxOutputBytes: fail with ``ArchiveError/Code/limitExceeded`` past this many
    ///     decompressed bytes; `nil` for no limit.
    ///   - name: how errors name the stream.
    public init(_ upstream: any ByteSource, maxOutputBytes: UInt64? = nil, name: String = "gzip stream") throws {
        self.upstream = upstream
        self.limit = maxOutputBytes
        self.name = name
        // z_stream must not move after init: zlib keeps a pointer back to it.
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputBufferSize, alignment: 16)
        let rc = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if rc != Z_OK {
            stream.deallocate()
            input.deallocate()
            throw ArchiveError(.io, "cannot initialise zlib for \(name) (inflateInit2 returned \(rc)); the system may be out of memory")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    private var offset: UInt64 { consumed - UInt64(stream.pointee.avail_in) }

    private func refill() throws {
        let n = try upstream.read(into: input)
        if n == 0 { upstreamEOF = true; return }
        stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(n)
        consumed += UInt64(n)
    }

    private func truncated() -> ArchiveError {
        ArchiveError(.truncated, "truncated gzip stream \(name) at compressed offset \(offset): the data ends before the gzip trailer; the download or file is incomplete — fetch it again")
    }

    /// Decompresses into `buffer`; returns 0 at the end of the last member.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let want = uInt(min(buffer.count, Int(UInt32.max)))
        while true {
            if stream.pointee.avail_in == 0 && !upstreamEOF { try refill() }
            if memberEnded {
                if stream.pointee.avail_in == 0 {
                    if upstreamEOF { finished = true; return 0 }
                    continue
                }
                guard stream.pointee.next_in?.pointee == 0x1f else {
                    throw ArchiveError(.corruptData, "gzip stream \(name) has trailing bytes at compressed offset \(offset) that are not another gzip member; the file is corrupt")
                }
                inflateReset(stream)
                memberEnded = false
            }
            stream.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = want
            let rc = inflate(stream, Z_NO_FLUSH)
            let n = Int(want - stream.pointee.avail_out)
            switch rc {
            case Z_OK, Z_STREAM_END, Z_BUF_ERROR:
                if rc == Z_STREAM_END { memberEnded = true }
                if n > 0 {
                    produced += UInt64(n)
                    if let limit, produced > limit { throw ArchiveError.sizeLimit(name: name, limit: limit) }
                    return n
                }
                if rc != Z_STREAM_END && stream.pointee.avail_in == 0 && upstreamEOF { throw truncated() }
            case Z_NEED_DICT, Z_DATA_ERROR:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw ArchiveError(.corruptData, "corrupt gzip stream \(name) near compressed offset \(offset): \(detail); the file is damaged — fetch it again")
            case Z_MEM_ERROR:
                throw ArchiveError(.io, "zlib ran out of memory decompressing \(name)")
            default:
                throw ArchiveError(.corruptData, "zlib failed on \(name) with code \(rc) near compressed offset \(offset)")
            }
        }
    }
}
