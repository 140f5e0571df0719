import Testing
@testable import KujiraArchive

@Suite struct CompressionTests {
    static let payloads: [[UInt8]] = [
        [],
        Array("hello, whale\n".utf8),
        pseudoRandomBytes(700_000),
        [UInt8](repeating: 0x41, count: 3_000_000),
    ]

    func compress(_ bytes: [UInt8], _ kind: Compression, level: Int? = nil) throws -> [UInt8] {
        let memory = MemorySink()
        let sink = try compressingSink(memory, compression: kind, level: level)
        // Odd-sized writes exercise buffer boundaries.
        var i = 0
        while i < bytes.count {
            let n = min(77_777, bytes.count - i)
            try sink.write(Array(bytes[i..<(i + n)]))
            i += n
        }
        try sink.finish()
        return memory.bytes
    }

    func decompress(_ bytes: [UInt8], _ kind: Compression?, limit: UInt64? = nil) throws -> [UInt8] {
        try decompressingSource(MemorySource(bytes), compression: kind, maxDecompressedBytes: limit).readAll()
    }

    @Test(arguments: [Compression.none, .gzip, .zstd], [0, 1, 2, 3])
    func roundTrip(kind: Compression, payload: Int) throws {
        let bytes = Self.payloads[payload]
        let packed = try compress(bytes, kind)
        #expect(Compression.detect(packed) == (bytes.isEmpty && kind == .none ? .none : kind))
        #expect(try decompress(packed, kind) == bytes)
        #expect(try decompress(packed, nil) == bytes, "auto-detection")
    }

    @Test(arguments: [Compression.gzip, .zstd])
    func compressionIsDeterministic(kind: Compression) throws {
        let bytes = pseudoRandomBytes(200_000) + [UInt8](repeating: 7, count: 100_000)
        #expect(try compress(bytes, kind) == compress(bytes, kind))
    }

    @Test func gzipHeaderHasNoNameOrMtime() throws {
        let packed = try compress(Array("x".utf8), .gzip)
        #expect(Array(packed[0..<4]) == [0x1f, 0x8b, 8, 0])  // no FNAME flag
        #expect(Array(packed[4..<8]) == [0, 0, 0, 0])        // mtime 0
    }

    @Test(arguments: [Compression.gzip, .zstd])
    func concatenatedMembersReadAsOneStream(kind: Compression) throws {
        let a = pseudoRandomBytes(100_000, seed: 1), b = Array("second member".utf8)
        let packed = try compress(a, kind) + compress(b, kind)
        #expect(try decompress(packed, kind) == a + b)
    }

    @Test(arguments: [Compression.gzip, .zstd])
    func truncatedStreamIsTruncatedError(kind: Compression) throws {
        let packed = try compress(pseudoRandomBytes(100_000), kind)
        for cut in [1, 10, packed.count / 2, packed.count - 1] {
            expectArchiveError(.truncated, "cut at \(cut)") { _ = try decompress(Array(packed[0..<cut]), kind) }
        }
        expectArchiveError(.truncated, "empty input") { _ = try decompress([], kind) }
    }

    @Test(arguments: [Compression.gzip, .zstd])
    func corruptedStreamIsCorruptDataError(kind: Compression) throws {
        var packed = try compress(pseudoRandomBytes(100_000), kind)
        let middle = packed.count / 2
        for i in middle..<(middle + 64) { packed[i] ^= 0x5a }
        expectArchiveError(.corruptData) { _ = try decompress(packed, kind) }
    }

    @Test func gzipTrailingGarbageIsCorruptData() throws {
        let packed = try compress(Array("abc".utf8), .gzip) + Array("garbage".utf8)
        expectArchiveError(.corruptData) { _ = try decompress(packed, .gzip) }
    }

    @Test(arguments: [Compression.none, .gzip, .zstd])
    func decompressionBombStopsAtLimit(kind: Compression) throws {
        let bomb = try compress([UInt8](repeating: 0, count: 8 << 20), kind)
        if kind != .none { #expect(bomb.count < 64 * 1024, "a small input expanding 8 MiB") }
        expectArchiveError(.limitExceeded) { _ = try decompress(bomb, kind, limit: 1 << 20) }
        #expect(try decompress(bomb, kind, limit: 8 << 20).count == 8 << 20)
    }

    @Test func detectionByMagic() {
        #expect(Compression.detect([0x1f, 0x8b, 8, 0]) == .gzip)
        #expect(Compression.detect([0x28, 0xb5, 0x2f, 0xfd, 0]) == .zstd)
        #expect(Compression.detect([0x28, 0xb5, 0x2f]) == .none)
        #expect(Compression.detect(Array("ustar".utf8)) == .none)
        #expect(Compression.detect([UInt8]()) == .none)
    }

    @Test(arguments: [Compression.gzip, .zstd])
    func observersHashCompressedAndDecompressedBytes(kind: Compression) throws {
        let bytes = pseudoRandomBytes(500_000)
        let packed = try compress(bytes, kind)
        var raw: [UInt8] = [], plain: [UInt8] = []
        let source = ObservingSource(
            try decompressingSource(ObservingSource(MemorySource(packed)) { raw += $0 }, compression: kind)) { plain += $0 }
        _ = try source.readAll()
        #expect(raw == packed)
        #expect(plain == bytes)
    }

    @Test func badLevelsAreRejected() {
        expectArchiveError(.invalidArgument) { _ = try GzipCompressor(MemorySink(), level: 10) }
        expectArchiveError(.invalidArgument) { _ = try ZstdCompressor(MemorySink(), level: 1000) }
    }

    @Test(arguments: [Compression.gzip, .zstd], [1, 9])
    func readsWhatTheCLIWrites(kind: Compression, level: Int) throws {
        if kind == .zstd && !hasZstdCLI { Issue.record("zstd CLI missing: apt-get install -y zstd"); return }
        let dir = try TempDir()
        let bytes = pseudoRandomBytes(300_000) + [UInt8](repeating: 1, count: 300_000)
        try writeFile(dir.sub("data"), bytes)
        let tool = kind == .gzip ? "gzip" : "zstd -q"
        try shOK("\(tool) -\(level) -c data > data.z && \(tool) -\(level) -c data >> data.z", cwd: dir.path)
        #expect(try decompress(readFile(dir.sub("data.z")), nil) == bytes + bytes)
        // And the CLI reads ours.
        try writeFile(dir.sub("ours.z"), compress(bytes, kind, level: level))
        try shOK("\(tool) -d -c ours.z > ours && cmp ours data", cwd: dir.path)
    }
}
