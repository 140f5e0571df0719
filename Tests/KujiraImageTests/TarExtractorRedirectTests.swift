import Foundation
import KujiraArchive
import Testing
@testable import KujiraImage

/// ``TarExtractor/redirects``: entries under a mount point of a stopped container go to the
/// mount's directory, confined there; a read-only one refuses them.
struct TarExtractorRedirectTests {
    static func archive(_ members: [(TarEntry, [UInt8])]) throws -> [UInt8] {
        let sink = MemorySink()
        let writer = TarWriter(sink)
        for (entry, content) in members { try writer.writeEntry(entry, content: content) }
        try writer.finish()
        return sink.bytes
    }

    @Test func entriesUnderARedirectLandInItsDirectory() throws {
        let dir = try TemporaryDirectory("kujira-redirect")
        defer { dir.remove() }
        let fm = FileManager.default
        let root = "\(dir.path)/root", mount = "\(dir.path)/outer/mount"
        try fm.createDirectory(atPath: "\(root)/app/data", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let bytes = try Self.archive([
            (TarEntry(path: "data/", type: .directory, mode: 0o700), []),
            (TarEntry(path: "data/new", type: .regular, mode: 0o644), Array("new\n".utf8)),
            (TarEntry(path: "./data/sub/../other", type: .regular, mode: 0o644), Array("other\n".utf8)),
            (TarEntry(path: "data/up", type: .symlink, linkname: "../../.."), []),
            (TarEntry(path: "data/up/escaped", type: .regular, mode: 0o644), Array("x\n".utf8)),
            (TarEntry(path: "top", type: .regular, mode: 0o644), Array("top\n".utf8)),
        ])
        let extractor = TarExtractor(root: root, preserveOwnership: false, redirects: ["app/data": mount])
        try extractor.extract(from: MemorySource(bytes), into: "app")
        #expect(try String(contentsOfFile: "\(mount)/new", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: "\(mount)/other", encoding: .utf8) == "other\n")
        #expect(try String(contentsOfFile: "\(root)/app/top", encoding: .utf8) == "top\n")
        // Nothing under the rootfs's placeholder, and the symlink stayed inside the mount.
        #expect(try fm.contentsOfDirectory(atPath: "\(root)/app/data").isEmpty)
        #expect(fm.fileExists(atPath: "\(mount)/escaped"))
        #expect(!fm.fileExists(atPath: "\(dir.path)/outer/escaped") && !fm.fileExists(atPath: "\(dir.path)/escaped"))
        // The mount point's own directory entry left the mount's root as it was.
        let mode = try #require(try fm.attributesOfItem(atPath: mount)[.posixPermissions] as? Int)
        #expect(mode != 0o700)
    }

    @Test func readOnlyRedirectsAndCrossMountLinksAreRefused() throws {
        let dir = try TemporaryDirectory("kujira-redirect")
        defer { dir.remove() }
        let fm = FileManager.default
        let root = "\(dir.path)/root", mount = "\(dir.path)/mount"
        try fm.createDirectory(atPath: "\(root)/ro", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let readOnly = try Self.archive([(TarEntry(path: "ro/x", type: .regular, mode: 0o644), Array("x\n".utf8))])
        #expect {
            try TarExtractor(root: root, preserveOwnership: false, redirects: ["ro": nil]).extract(from: MemorySource(readOnly), into: "")
        } throws: { ($0 as? LayerError)?.code == .readOnly }
        #expect(!fm.fileExists(atPath: "\(root)/ro/x"))
        let linked = try Self.archive([
            (TarEntry(path: "file", type: .regular, mode: 0o644), Array("f\n".utf8)),
            (TarEntry(path: "vol/link", type: .hardlink, linkname: "file"), []),
        ])
        #expect(throws: LayerError.self) {
            try TarExtractor(root: root, preserveOwnership: false, redirects: ["vol": mount]).extract(from: MemorySource(linked), into: "")
        }
        #expect(!fm.fileExists(atPath: "\(mount)/link"))
    }
}
