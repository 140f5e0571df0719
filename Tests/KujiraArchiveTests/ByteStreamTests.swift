import Glibc
import Testing
@testable import KujiraArchive

@Suite struct ByteStreamTests {
    @Test func memorySourceYieldsBytesInChunks() throws {
        let bytes = pseudoRandomBytes(10_000)
        let source = MemorySource(bytes)
        var chunk = [UInt8](repeating: 0, count: 3000)
        var out: [UInt8] = []
        while true {
            let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        #expect(out == bytes)
    }

    @Test func fileDescriptorSourceAndSinkRoundTrip() throws {
        let dir = try TempDir()
        let bytes = pseudoRandomBytes(1 << 20 | 123)
        let sink = try FileDescriptorSink(path: dir.sub("f"))
        try sink.write(bytes)
        try sink.finish()
        #expect(try FileDescriptorSource(path: dir.sub("f")).readAll() == bytes)
    }

    @Test func openingMissingFileIsIOError() {
        expectArchiveError(.io) { _ = try FileDescriptorSource(path: "/nonexistent/kujira") }
    }

    @Test func observersSeeEveryByteOnce() throws {
        let bytes = pseudoRandomBytes(300_000)
        var seenIn: [UInt8] = []
        var seenOut: [UInt8] = []
        let source = ObservingSource(MemorySource(bytes)) { seenIn += $0 }
        let memory = MemorySink()
        let sink = ObservingSink(memory) { seenOut += $0 }
        try sink.write(try source.readAll())
        try sink.finish()
        #expect(seenIn == bytes)
        #expect(seenOut == bytes)
        #expect(memory.bytes == bytes)
    }

    @Test func prefixedSourceReplaysPeekedBytes() throws {
        let (kind, source) = try Compression.detect(peeking: MemorySource([1, 2, 3, 4, 5, 6]))
        #expect(kind == Compression.none)
        #expect(try source.readAll() == [1, 2, 3, 4, 5, 6])
        let (shortKind, shortSource) = try Compression.detect(peeking: MemorySource([0x1f]))
        #expect(shortKind == Compression.none)
        #expect(try shortSource.readAll() == [0x1f])
    }

    @Test func readAllLimit() {
        expectArchiveError(.limitExceeded) { _ = try MemorySource(pseudoRandomBytes(1000)).readAll(limit: 999) }
    }
}
