import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

/// What a tree holds at one path, for comparing a source directory with an unpacked image.
private struct TreeNode: Equatable, CustomStringConvertible {
    var type: mode_t
    var mode: mode_t
    var uid: uid_t
    var gid: gid_t
    var content: [UInt8]
    var description: String { "type \(String(type, radix: 8)) mode \(String(mode, radix: 8)) \(uid):\(gid) \(content.count) bytes" }
}

/// Every path under `root` (not following symlinks) with its type, mode, owner and
/// content (file bytes or link target).
private func tree(_ root: String) throws -> [String: TreeNode] {
    var result = [String: TreeNode]()
    func walk(_ relative: String) throws {
        let path = relative.isEmpty ? root : "\(root)/\(relative)"
        for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
            let child = relative.isEmpty ? name : "\(relative)/\(name)"
            var st = stat()
            guard lstat("\(root)/\(child)", &st) == 0 else { throw ImageStoreError(.io, "lstat \(child)") }
            var content = [UInt8]()
            switch st.st_mode & S_IFMT {
            case S_IFREG: content = try FileSystem.readFile("\(root)/\(child)")
            case S_IFLNK: content = Array(try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/\(child)").utf8)
            default: break
            }
            result[child] = TreeNode(type: st.st_mode & S_IFMT, mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid, content: content)
            if st.st_mode & S_IFMT == S_IFDIR { try walk(child) }
        }
    }
    try walk("")
    return result
}

private func inode(_ path: String) -> ino_t {
    var st = stat()
    return lstat(path, &st) == 0 ? st.st_ino : 0
}

/// Imports set and unset `SOURCE_DATE_EPOCH`, process-wide: these tests run one at a time.
@Suite(.serialized) struct ImportTests {
    /// A root file system with the cases an unpacker must reproduce.
    private func makeRootfs(at root: String) throws {
        let fm = FileManager.default
        for dir in ["bin", "etc", "home/user", "var/empty"] { try fm.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true) }
        try fm.copyItem(atPath: "/bin/busybox", toPath: "\(root)/bin/busybox")
        for applet in ["sh", "ls", "cat"] { try fm.createSymbolicLink(atPath: "\(root)/bin/\(applet)", withDestinationPath: "busybox") }
        try fm.linkItem(atPath: "\(root)/bin/busybox", toPath: "\(root)/bin/hardlinked")
        try Data("kujira\n".utf8).write(to: URL(fileURLWithPath: "\(root)/etc/hostname"))
        try Data("root:*:0:0:::::\n".utf8).write(to: URL(fileURLWithPath: "\(root)/etc/shadow"))
        try Data("ünïcødé\n".utf8).write(to: URL(fileURLWithPath: "\(root)/etc/\(String(repeating: "long-name-", count: 12))ü"))
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: "\(root)/home/user/file"))
        try fm.createSymbolicLink(atPath: "\(root)/dangling", withDestinationPath: "/nowhere/at/all")
        chmod("\(root)/etc/shadow", 0o640)
        chown("\(root)/etc/shadow", 0, 42)
        chmod("\(root)/bin/busybox", 0o4755)
        chmod("\(root)/var/empty", 0o700)
        chmod("\(root)/home/user", 0o750)
        chown("\(root)/home/user", 1000, 1000)
        chown("\(root)/home/user/file", 1000, 1000)
        chmod(root, 0o755)
    }

    @Test(.enabled(if: which("umoci") != nil || requirePrivileged, "umoci is not installed (apt-get install umoci)"))
    func directoryImportUnpacksToTheSameTreeWithUmoci() throws {
        let dir = try TemporaryDirectory("kujira-import")
        defer { dir.remove() }
        unsetenv("SOURCE_DATE_EPOCH")
        let rootfs = "\(dir.path)/rootfs"
        try makeRootfs(at: rootfs)
        let store = try ImageStore(root: "\(dir.path)/store")
        var config = ImageConfig()
        config.cmd = ["/bin/sh"]
        config.env = ["PATH=/bin"]
        let record = try store.importRootfs(from: rootfs, name: "localhost/rootfs:1", config: config)

        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(store.content.read(record.target.digest)))
        #expect(manifest.layers.map(\.mediaType) == [MediaType.layerGzip])
        let image = try JSONDecoder().decode(ImageConfiguration.self, from: Data(store.content.read(manifest.config.digest)))
        #expect(image.architecture == Platform.host.architecture && image.os == "linux")
        #expect(image.config?.cmd == ["/bin/sh"])
        #expect(image.history?.map(\.createdBy) == ["kujira import"])
        #expect(image.rootfs.diffIDs.count == 1)
        #expect(image.createdTimestamp.map { abs($0.secondsSinceEpoch - Int64(Date().timeIntervalSince1970)) < 600 } == true)

        let layout = "\(dir.path)/layout"
        try store.exportImage(record.name, to: layout, tag: "1")
        let bundle = "\(dir.path)/bundle"
        try runPeer("umoci", ["unpack", "--image", "\(layout):1", bundle])
        let unpacked = "\(bundle)/rootfs"
        let expected = try tree(rootfs)
        let actual = try tree(unpacked)
        #expect(Set(actual.keys) == Set(expected.keys))
        for (path, node) in expected where actual[path] != node {
            Issue.record("\(path): unpacked \(actual[path].map(\.description) ?? "missing"), source \(node)")
        }
        #expect(inode("\(unpacked)/bin/hardlinked") == inode("\(unpacked)/bin/busybox"))
    }

    @Test(.enabled(if: which("tar") != nil || requirePrivileged, "GNU tar is not installed"))
    func tarFilesPlainGzipAndZstdGiveTheSameReproducibleImage() throws {
        let dir = try TemporaryDirectory("kujira-import")
        defer { dir.remove(); unsetenv("SOURCE_DATE_EPOCH") }
        let rootfs = "\(dir.path)/rootfs"
        try makeRootfs(at: rootfs)
        let plain = "\(dir.path)/rootfs.tar"
        try runPeer("tar", ["-C", rootfs, "-cf", plain, "."])
        let gzip = MemorySink()
        let gzipper = try compressingSink(gzip, compression: .gzip, level: 1)
        try gzipper.write(fileBytes(plain))
        try gzipper.finish()
        try Data(gzip.bytes).write(to: URL(fileURLWithPath: "\(plain).gz"))
        let zstd = MemorySink()
        let zstder = try compressingSink(zstd, compression: .zstd)
        try zstder.write(fileBytes(plain))
        try zstder.finish()
        try Data(zstd.bytes).write(to: URL(fileURLWithPath: "\(plain).zst"))

        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)
        let store = try ImageStore(root: "\(dir.path)/store")
        let records = try [plain, "\(plain).gz", "\(plain).zst"].enumerated().map { index, path in
            try store.importRootfs(from: path, name: "localhost/tar:\(index)", config: ImageConfig())
        }
        let diffID = Digest.of(try fileBytes(plain))
        for record in records {
            let manifest = try JSONDecoder().decode(Manifest.self, from: Data(store.content.read(record.target.digest)))
            let image = try JSONDecoder().decode(ImageConfiguration.self, from: Data(store.content.read(manifest.config.digest)))
            #expect(image.rootfs.diffIDs == [diffID])
            #expect(image.created == "2023-11-14T22:13:20Z")
        }
        // Same tar, same epoch: one image ID, one manifest.
        #expect(Set(records.map(\.target)).count == 1)

        // A directory imported twice under SOURCE_DATE_EPOCH gives the same image too.
        let first = try store.importRootfs(from: rootfs, name: "localhost/dir:1", config: ImageConfig())
        let other = try ImageStore(root: "\(dir.path)/other")
        let second = try other.importRootfs(from: rootfs, name: "localhost/dir:1", config: ImageConfig())
        #expect(first.target == second.target)
    }

    @Test func brokenRootfsInputsFailCleanly() throws {
        let dir = try TemporaryDirectory("kujira-import")
        defer { dir.remove() }
        unsetenv("SOURCE_DATE_EPOCH")
        let good = MemorySink()
        let tar = TarWriter(good)
        try tar.writeEntry(TarEntry(path: "big", type: .regular), content: Array(repeating: 7, count: 50_000))
        try tar.finish()
        let truncated = "\(dir.path)/truncated.tar"
        try Data(good.bytes.prefix(20_000)).write(to: URL(fileURLWithPath: truncated))
        let garbage = "\(dir.path)/garbage.tar"
        try Data(repeating: 0x41, count: 2048).write(to: URL(fileURLWithPath: garbage))
        let empty = "\(dir.path)/empty.tar"
        try Data().write(to: URL(fileURLWithPath: empty))

        let store = try ImageStore(root: "\(dir.path)/store")
        expectStoreError(.invalidArchive, mentioning: ["truncated archive \(truncated)"]) {
            try store.importRootfs(from: truncated, name: "localhost/x:1", config: ImageConfig())
        }
        expectStoreError(.invalidArchive, mentioning: ["malformed archive \(garbage)"]) {
            try store.importRootfs(from: garbage, name: "localhost/x:1", config: ImageConfig())
        }
        expectStoreError(.invalidArchive, mentioning: [empty]) {
            try store.importRootfs(from: empty, name: "localhost/x:1", config: ImageConfig())
        }
        expectStoreError(.io, mentioning: ["\(dir.path)/missing"]) {
            try store.importRootfs(from: "\(dir.path)/missing", name: "localhost/x:1", config: ImageConfig())
        }
        expectStoreError(.invalidArgument) { try store.importRootfs(from: empty, name: "", config: ImageConfig()) }
        #expect(try store.list().isEmpty)
        #expect(try FileSystem.listDirectory(store.content.ingestDirectory).isEmpty)

        let goodPath = "\(dir.path)/good.tar"
        try Data(good.bytes).write(to: URL(fileURLWithPath: goodPath))
        let record = try store.importRootfs(from: goodPath, name: "localhost/x:1", config: ImageConfig())
        #expect(try store.list().map(\.name) == ["localhost/x:1"])
        for child in try store.children(of: record.target) { try store.content.verify(child.digest) }
    }
}
