import Foundation
import Glibc
import Testing
@testable import KujiraArchive

@Suite struct DirectoryArchiverTests {
    func archive(_ root: String, options: DirectoryArchiver.Options = .init(), compression: Compression = .none) throws -> [UInt8] {
        let memory = MemorySink()
        let writer = TarWriter(try compressingSink(memory, compression: compression))
        try DirectoryArchiver(options: options).archive(directory: root, to: writer)
        try writer.finish()
        return memory.bytes
    }

    @Test func pathsOrderAndTypes() throws {
        let dir = try TempDir()
        let xattrsSet = try TreeSpec(withXattrs: true).create(at: dir.path)
        try writeFile(dir.sub("d-sibling"), [1])   // '-' sorts before '/', but parents come first
        symlink("/etc", dir.sub("etc-link"))     // never followed
        let entries = try readEntries(archive(dir.path))
        let paths = entries.map(\.entry.path)
        var expected = ["big.bin"]
        if isRoot || requirePrivileged { expected.append("c") }
        expected += ["d/", "d/f", "d/sub/", "d-sibling", "empty", "etc-link", "hl", "l",
                     TreeSpec.longDir + "/", TreeSpec.longDir + "/" + TreeSpec.longFile, "longlink", "p", "suid"]
        #expect(paths == expected)
        let byPath = Dictionary(uniqueKeysWithValues: entries.map { ($0.entry.path, $0) })
        #expect(byPath["d/"]?.entry.type == .directory)
        #expect(byPath["d/sub/"]?.entry.mode == 0o2775)
        #expect(byPath["d/f"]?.content == Array("hello\n".utf8))
        #expect(byPath["hl"]?.entry.type == .hardlink)
        #expect(byPath["hl"]?.entry.linkname == "d/f")
        #expect(byPath["etc-link"]?.entry.type == .symlink)
        #expect(byPath["etc-link"]?.entry.linkname == "/etc")
        #expect(byPath["p"]?.entry.type == .fifo)
        #expect(byPath["suid"]?.entry.mode == 0o4755)
        if xattrsSet {
            #expect(byPath["suid"]?.entry.xattrs == ["security.capability": TreeSpec.capability])
            #expect(byPath["d/f"]?.entry.xattrs == ["user.kujira": TreeSpec.xattrValue])
        }
        #expect(byPath["big.bin"]?.content == TreeSpec.big)
        if isRoot || requirePrivileged {
            #expect(byPath["c"]?.entry.type == .characterDevice)
            #expect(byPath["c"]?.entry.devmajor == 1 && byPath["c"]?.entry.devminor == 3)
        }
        for entry in entries.map(\.entry) {
            #expect(!entry.path.hasPrefix("/") && !entry.path.hasPrefix("./"))
            #expect(entry.xattrs.keys.allSatisfy { !$0.hasPrefix("system.") })
        }
    }

    @Test(arguments: [Compression.none, .gzip, .zstd])
    func twoRunsAreByteIdentical(compression: Compression) throws {
        let dir = try TempDir()
        try TreeSpec(withXattrs: true).create(at: dir.path)
        let first = try archive(dir.path, compression: compression)
        #expect(first == (try archive(dir.path, compression: compression)))
        let unpacked = try decompressingSource(MemorySource(first), compression: nil)
        #expect(try readEntries(unpacked).count >= 12)
    }

    @Test func mtimeClamp() throws {
        let dir = try TempDir()
        try writeFile(dir.sub("new"), [1])
        try writeFile(dir.sub("old"), [2])
        func setMtime(_ path: String, _ seconds: Int) {
            var times = [timespec(tv_sec: seconds, tv_nsec: 500), timespec(tv_sec: seconds, tv_nsec: 500)]
            #expect(utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0)
        }
        setMtime(dir.sub("new"), 2_000_000_000)
        setMtime(dir.sub("old"), 1_000_000_000)
        let entries = try readEntries(archive(dir.path, options: .init(mtimeClamp: 1_500_000_000)))
        #expect(entries.map(\.entry.mtime.seconds) == [1_500_000_000, 1_000_000_000])
        let unclamped = try readEntries(archive(dir.path))
        #expect(unclamped.map(\.entry.mtime.seconds) == [2_000_000_000, 1_000_000_000])
    }

    @Test func xattrFilter() {
        #expect(DirectoryArchiver.keepsXattr("security.capability"))
        #expect(DirectoryArchiver.keepsXattr("user.mime_type"))
        #expect(DirectoryArchiver.keepsXattr("trusted.other"))
        #expect(!DirectoryArchiver.keepsXattr("system.posix_acl_access"))
        #expect(!DirectoryArchiver.keepsXattr("trusted.overlay.opaque"))
    }

    @Test func missingDirectoryIsIOError() {
        expectArchiveError(.io) { _ = try archive("/nonexistent/kujira-tree") }
    }

    @Test func emptyDirectoryIsAnEmptyArchive() throws {
        let dir = try TempDir()
        let bytes = try archive(dir.path)
        #expect(bytes == [UInt8](repeating: 0, count: 1024))
    }
}
