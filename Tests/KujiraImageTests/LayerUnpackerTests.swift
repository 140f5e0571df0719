import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

/// A destination next to a canary directory: hostile layers must leave the canary as it was.
struct Sandbox {
    let base: TemporaryDirectory
    var root: String { "\(base.path)/root" }
    var outside: String { "\(base.path)/outside" }

    init() throws {
        base = try TemporaryDirectory("kj-hostile")
        mkdir(root, 0o755)
        mkdir(outside, 0o755)
        try writeFile("\(outside)/canary", Array("canary".utf8))
    }

    /// The canary directory's listing (with link counts, so a new hard link shows).
    func canary() throws -> [String] {
        var info = stat()
        lstat("\(outside)/canary", &info)
        return try canonicalListing(outside) + ["nlink=\(info.st_nlink)"]
    }

    func remove() { base.remove() }
}

@Suite("LayerUnpacker")
struct LayerUnpackerTests {
    @Test("unpacks and verifies", arguments: [Compression.none, .gzip, .zstd], [true, false])
    func roundTrip(compression: Compression, pipelined: Bool) throws {
        let box = try Sandbox()
        defer { box.remove() }
        let big = String(repeating: "kujira ", count: 400_000)  // 2.8 MB: several buffers
        let layer = try TestLayer([.dir("etc/"), .file("etc/hostname", "box\n"), .file("big", big, mode: 0o600),
                                   .symlink("link", to: "etc/hostname"), .hardlink("etc/alias", to: "etc/hostname")],
                                  compression: compression)
        let result = try unpack(layer, into: box.root, options: LayerUnpackOptions(pipelined: pipelined))
        #expect(result.digest == layer.descriptor.digest)
        #expect(result.diffID == layer.diffID)
        #expect(result.entries == 5)
        #expect(try FileSystem.readFile("\(box.root)/big").count == big.utf8.count)
        #expect(try FileSystem.readFile("\(box.root)/etc/alias") == Array("box\n".utf8))
    }

    @Test func wrongCompressedDigestIsRejected() throws {
        let box = try Sandbox()
        defer { box.remove() }
        var layer = try TestLayer([.file("a", "a")])
        layer.descriptor.digest = Digest.sha256(of: Array("other".utf8))
        #expect { try unpack(layer, into: box.root) } throws: { ($0 as? LayerError)?.code == .digestMismatch }
    }

    @Test func wrongSizeIsRejected() throws {
        let box = try Sandbox()
        defer { box.remove() }
        var layer = try TestLayer([.file("a", "a")])
        layer.descriptor.size += 1
        #expect { try unpack(layer, into: box.root) } throws: { ($0 as? LayerError)?.code == .sizeMismatch }
    }

    @Test func mediaTypeMustMatchMagic() throws {
        let box = try Sandbox()
        defer { box.remove() }
        var layer = try TestLayer([.file("a", "a")], compression: .zstd)
        layer.descriptor.mediaType = MediaType.layerGzip
        #expect { try unpack(layer, into: box.root) } throws: { ($0 as? LayerError)?.code == .compressionMismatch }
    }

    @Test func bytesAfterTheTarEndAreCoveredByTheDiffID() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let tar = MemorySink()
        let writer = TarWriter(tar)
        try writer.writeEntry(TarEntry(path: "a", type: .regular, size: 1), content: [0x61])
        try writer.finish()
        let padded = tar.bytes + [UInt8](repeating: 0, count: 4096) + Array("junk".utf8)
        let layer = try TestLayer(tar: padded)
        let result = try unpack(layer, into: box.root)
        #expect(result.uncompressedSize == UInt64(padded.count))
        #expect(result.diffID == Digest.sha256(of: padded))
    }

    @Test("a tar without the last padding and end blocks (umoci 0.4's layers) unpacks, as Go's archive/tar allows")
    func missingFinalPadding() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let tar = MemorySink()
        let writer = TarWriter(tar)
        try writer.writeEntry(TarEntry(path: "a", type: .regular, size: 5), content: Array("hello".utf8))
        try writer.finish()
        let cut = Array(tar.bytes.prefix(512 + 5))
        #expect(cut.count == 517)
        let layer = try TestLayer(tar: cut)
        let result = try unpack(layer, into: box.root)
        #expect(result.diffID == Digest.sha256(of: cut))
        #expect(try FileSystem.readFile("\(box.root)/a") == Array("hello".utf8))
    }

    // MARK: - Hostile layers: one test each. Documented outcome in the test name.

    @Test("../ escape is confined to the root") func dotDotEscape() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let before = try box.canary()
        try unpack(try TestLayer([.file("../../outside/evil", "x"), .file("../outside/canary", "overwritten")]), into: box.root)
        #expect(try box.canary() == before)
        #expect(FileSystem.exists("\(box.root)/outside/evil"))
        #expect(try FileSystem.readFile("\(box.root)/outside/canary") == Array("overwritten".utf8))
    }

    @Test("absolute symlink escape resolves inside the root") func absoluteSymlinkEscape() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let before = try box.canary()
        try unpack(try TestLayer([.symlink("link", to: box.outside), .file("link/evil", "x"), .file("link/canary", "overwritten")]), into: box.root)
        #expect(try box.canary() == before)
        #expect(FileSystem.exists("\(box.root)\(box.outside)/evil"))
        var info = stat()
        #expect(lstat("\(box.root)/link", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
    }

    @Test("symlink swapped for a directory, then written through, stays inside") func symlinkSwapThenWrite() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let before = try box.canary()
        let layer = try TestLayer([.dir("d/"), .file("d/x", "x"),
                                   .symlink("d", to: "../../../../../../\(box.outside)"),
                                   .file("d/canary", "overwritten"), .file("d/evil", "x")])
        try unpack(layer, into: box.root)
        #expect(try box.canary() == before)
        #expect(FileSystem.exists("\(box.root)\(box.outside)/evil"))
    }

    @Test("hard link to a host file fails: the target is looked up inside the root") func hardlinkToHostFile() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let before = try box.canary()
        #expect {
            try unpack(try TestLayer([.hardlink("stolen", to: "\(box.outside)/canary")]), into: box.root)
        } throws: { ($0 as? LayerError)?.code == .hardlinkTargetMissing }
        #expect { try unpack(try TestLayer([.hardlink("stolen", to: "../outside/canary")]), into: box.root) } throws: { _ in true }
        #expect(try box.canary() == before)
        #expect(!FileSystem.exists("\(box.root)/stolen"))
    }

    @Test("device node is refused, skipped or created per DevicePolicy") func deviceNode() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let before = try box.canary()
        let layer = try TestLayer([TestEntry(entry: TarEntry(path: "dev/mem", type: .characterDevice, mode: 0o600, devmajor: 1, devminor: 1))])
        #expect {
            try unpack(layer, into: box.root, writerOptions: RootfsWriterOptions(devicePolicy: .reject))
        } throws: { ($0 as? LayerError)?.code == .deviceForbidden }
        try unpack(layer, into: box.root, writerOptions: RootfsWriterOptions(devicePolicy: .skip))
        #expect(!FileSystem.exists("\(box.root)/dev/mem"))
        #expect(try box.canary() == before)
    }

    @Test("zero-size bomb stops at the uncompressed limit") func zeroBomb() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let before = try box.canary()
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let layer = try TestLayer([TestEntry(entry: TarEntry(path: "zeros", type: .regular, size: Int64(zeros.count)), content: zeros)])
        #expect(layer.blob.count < 200_000)
        for pipelined in [true, false] {
            #expect {
                try unpack(layer, into: box.root, options: LayerUnpackOptions(maxUncompressedBytes: 4 << 20, pipelined: pipelined))
            } throws: { ($0 as? LayerError)?.code == .layerTooLarge }
        }
        #expect(try box.canary() == before)
    }

    @Test("truncated stream fails") func truncatedStream() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let layer = try TestLayer([.file("a", String(repeating: "abc", count: 100_000)), .file("b", "b")])
        let cut = Array(layer.blob.prefix(layer.blob.count / 2))
        for pipelined in [true, false] {
            #expect {
                try unpack(layer, into: box.root, options: LayerUnpackOptions(pipelined: pipelined), blob: cut)
            } throws: { ($0 as? LayerError)?.code == .truncatedLayer }
        }
        let tarCut = try TestLayer([.file("a", String(repeating: "abc", count: 1000))], compression: .none)
        #expect {
            try unpack(tarCut, into: box.root, blob: Array(tarCut.blob.prefix(1500)))
        } throws: { ($0 as? LayerError)?.code == .truncatedLayer }
    }

    @Test("wrong diff_id fails after the whole stream is read, and commits no snapshot") func wrongDiffID() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let layer = try TestLayer([.file("a", "a")])
        #expect {
            try unpack(layer, into: box.root, diffID: Digest.sha256(of: Array("not it".utf8)))
        } throws: { error in
            guard let error = error as? LayerError else { return false }
            return error.code == .diffIDMismatch && error.message.contains(layer.descriptor.digest.description)
        }
        let store = try ImageStore(root: "\(box.base.path)/store")
        _ = try store.content.write(layer.blob, mediaType: layer.descriptor.mediaType)
        let snapshots = try store.snapshotStore(mode: .copy)
        #expect {
            try snapshots.ensureUnpacked(layers: [layer.descriptor], diffIDs: [Digest.sha256(of: Array("not it".utf8))])
        } throws: { ($0 as? LayerError)?.code == .diffIDMismatch }
        #expect(try FileSystem.listDirectory("\(snapshots.directory)/chains").isEmpty)
        #expect(try FileSystem.listDirectory("\(snapshots.directory)/tmp").isEmpty)
        #expect(try FileSystem.listDirectory(snapshots.directory).compactMap { Int($0) }.isEmpty)
    }
}
