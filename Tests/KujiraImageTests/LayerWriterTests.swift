import Foundation
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

@Suite struct LayerWriterTests {
    /// A small tar stream with a directory, a file and a symlink.
    private func sampleTar(_ sink: any ByteSink) throws {
        let tar = TarWriter(sink)
        try tar.writeEntry(TarEntry(path: "etc/", type: .directory, mode: 0o755))
        try tar.writeEntry(TarEntry(path: "etc/hostname", type: .regular), content: Array(repeating: UInt8(ascii: "k"), count: 100_000))
        try tar.writeEntry(TarEntry(path: "etc/link", type: .symlink, linkname: "hostname"))
        try tar.finish()
    }

    @Test(arguments: [Compression.none, .gzip, .zstd])
    func computesBlobDigestAndDiffIDInOnePass(compression: Compression) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let plain = MemorySink()
        try sampleTar(plain)

        let layer = try LayerWriter(store: store, compression: compression)
        try sampleTar(layer.sink)
        #expect(layer.uncompressedSize == Int64(plain.bytes.count))
        let (descriptor, diffID) = try layer.commit()

        #expect(diffID == Digest.of(plain.bytes))
        #expect(descriptor.mediaType == LayerWriter.mediaType(for: compression))
        #expect(MediaType.layerCompression(descriptor.mediaType)?.rawValue == compression.rawValue)
        let blob = try store.read(descriptor.digest)
        #expect(descriptor.size == Int64(blob.count))
        let roundTrip = try decompressingSource(MemorySource(blob), compression: nil).readAll()
        #expect(roundTrip == plain.bytes)
        if compression == .none { #expect(descriptor.digest == diffID) } else { #expect(blob.count < plain.bytes.count) }
    }

    @Test func commitFinishesAnUnfinishedStreamAndIsDeterministic() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let plain = MemorySink()
        try sampleTar(plain)
        var results = [Descriptor]()
        for _ in 0..<2 {
            let layer = try LayerWriter(store: store)
            try layer.sink.write(plain.bytes)   // raw bytes, sink never finished by the caller
            let (descriptor, diffID) = try layer.commit()
            #expect(diffID == Digest.of(plain.bytes))
            results.append(descriptor)
        }
        #expect(results[0] == results[1])
        #expect(try store.list() == [results[0].digest])
    }

    @Test func abortedOrDroppedWritersLeaveNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        do {
            let layer = try LayerWriter(store: store)
            try layer.sink.write(Array(repeating: 1, count: 4096))
            layer.abort()
            #expect(throws: (any Error).self) { try layer.commit() }
        }
        do {
            let layer = try LayerWriter(store: store, compression: .zstd)
            try layer.sink.write(Array(repeating: 2, count: 4096))
        }
        #expect(try store.list().isEmpty)
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)
    }

    @Test func secondCommitAndLateWritesFail() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let layer = try LayerWriter(store: store)
        try sampleTar(layer.sink)
        _ = try layer.commit()
        #expect(throws: ImageStoreError.self) { try layer.commit() }
        #expect(throws: ImageStoreError.self) { try layer.sink.write([1, 2, 3]) }
    }
}
