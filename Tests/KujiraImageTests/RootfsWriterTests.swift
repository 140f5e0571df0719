import Foundation
import Testing
@testable import KujiraImage
import CKujiraSys

/// Root-only cases (chown, mknod, security.capability) skip without root, unless CI sets
/// `KUJIRA_REQUIRE_PRIVILEGED=1`: then they run and fail, never skip.
enum Privilege {
    static let required = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    static let available = geteuid() == 0 || required
    static let reason: Comment = "needs root (chown, mknod, security.* xattrs); run as root or set KUJIRA_REQUIRE_PRIVILEGED=1"
}

/// A scratch directory `<tmp>/kujira-rootfs-<uuid>` with `root/` (the unpack destination)
/// and `outside/canary` (a file that no entry may touch).
final class Scratch {
    let base: String
    var root: String { base + "/root" }
    var outside: String { base + "/outside" }
    var canary: String { outside + "/canary" }
    static let canaryText = "canary"

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-rootfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/root", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
        try Self.canaryText.write(toFile: base + "/outside/canary", atomically: false, encoding: .utf8)
    }

    deinit { try? RootfsWriter.removeTree(at: base) }

    func writer(_ options: RootfsWriterOptions = RootfsWriterOptions(), openat2: Bool = true) throws -> RootfsWriter {
        let writer = try RootfsWriter(root: root, options: options)
        writer.resolver.useOpenat2 = openat2
        return writer
    }

    /// lstat of `relative` inside the root; nil when missing.
    func info(_ relative: String) -> stat? { Scratch.lstatPath(root + "/" + relative) }

    static func lstatPath(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    func contents(_ relative: String) -> String? { try? String(contentsOfFile: root + "/" + relative, encoding: .utf8) }

    /// Whether the canary outside the root is exactly as created, and nothing was added next to it.
    var outsideUntouched: Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outside)) ?? []
        return names == ["canary"] && (try? String(contentsOfFile: canary, encoding: .utf8)) == Self.canaryText
            && (Scratch.lstatPath(canary).map { $0.st_nlink == 1 && $0.st_mode & 0o7777 == 0o644 } ?? false)
    }
}

extension RootfsWriter {
    /// Applies a regular file with `text` as content.
    func file(_ path: String, _ text: String = "", mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
              mtime: LayerEntry.Timestamp = .init(seconds: 1_600_000_000), xattrs: [String: [UInt8]] = [:]) throws {
        let entry = LayerEntry(path: path, kind: .regular, mode: mode, uid: uid, gid: gid, mtime: mtime, xattrs: xattrs)
        try apply(entry) { fd in
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written != bytes.count { throw LayerError(.systemCallFailed, "short write") }
        }
    }

    func dir(_ path: String, mode: UInt32 = 0o755, uid: UInt32 = 0, gid: UInt32 = 0,
             mtime: LayerEntry.Timestamp = .init(seconds: 1_500_000_000), xattrs: [String: [UInt8]] = [:]) throws {
        try apply(LayerEntry(path: path, kind: .directory, mode: mode, uid: uid, gid: gid, mtime: mtime, xattrs: xattrs))
    }

    func symlink(_ path: String, _ target: String, uid: UInt32 = 0, gid: UInt32 = 0) throws {
        try apply(LayerEntry(path: path, kind: .symlink(to: target), mode: 0o777, uid: uid, gid: gid))
    }

    func hardlink(_ path: String, _ target: String) throws {
        try apply(LayerEntry(path: path, kind: .hardlink(to: target)))
    }

    /// Marks an entry as a whiteout (`.wh.NAME`) or opaque marker; the kind does not matter.
    func whiteout(_ path: String) throws {
        try apply(LayerEntry(path: path, kind: .regular, mode: 0))
    }
}

/// Reads an xattr without following symlinks.
func xattr(_ path: String, _ name: String) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = buffer.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, $0.count) }
    return count < 0 ? nil : Array(buffer[..<count])
}

/// A VFS_CAP_REVISION_2 `security.capability` blob granting CAP_NET_BIND_SERVICE (bit 10),
/// effective: magic_etc, then {permitted, inheritable} for each 32-bit half, little-endian.
let capabilityBlob: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

@Suite("RootfsWriter: entry kinds and metadata")
struct RootfsWriterTests {
    @Test("every entry kind is created with its type, content and target", .enabled(if: Privilege.available, Privilege.reason))
    func everyKind() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.dir("etc")
        try writer.file("etc/hostname", "kujira\n")
        try writer.symlink("etc/link", "../some/where")
        try writer.hardlink("etc/hard", "etc/hostname")
        try writer.apply(LayerEntry(path: "dev/null", kind: .characterDevice(major: 1, minor: 3), mode: 0o666))
        try writer.apply(LayerEntry(path: "dev/loop0", kind: .blockDevice(major: 7, minor: 0), mode: 0o660))
        try writer.apply(LayerEntry(path: "run/fifo", kind: .fifo, mode: 0o620))
        try writer.finish()

        #expect(scratch.info("etc").map { $0.st_mode & S_IFMT } == S_IFDIR)
        #expect(scratch.contents("etc/hostname") == "kujira\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.root + "/etc/link") == "../some/where")
        let hostname = try #require(scratch.info("etc/hostname")), hard = try #require(scratch.info("etc/hard"))
        #expect(hostname.st_ino == hard.st_ino && hostname.st_nlink == 2)
        let null = try #require(scratch.info("dev/null"))
        #expect(null.st_mode == S_IFCHR | 0o666 && kujira_major(null.st_rdev) == 1 && kujira_minor(null.st_rdev) == 3)
        let loop = try #require(scratch.info("dev/loop0"))
        #expect(loop.st_mode == S_IFBLK | 0o660 && kujira_major(loop.st_rdev) == 7 && kujira_minor(loop.st_rdev) == 0)
        #expect(scratch.info("run/fifo")?.st_mode == S_IFIFO | 0o620)
        // Implicit parents (no entry for dev/, run/) are made 0755.
        #expect(scratch.info("run").map { $0.st_mode & 0o7777 } == 0o755)
    }

    @Test("modes survive, including setuid, setgid and sticky", arguments: [0o4755, 0o2755, 0o1777, 0o6711, 0o644, 0o600, 0o000] as [UInt32])
    func modes(mode: UInt32) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.file("f", "x", mode: mode, uid: 0, gid: 0)
        try writer.dir("d", mode: mode)
        try writer.finish()
        #expect(scratch.info("f").map { $0.st_mode & 0o7777 } == mode_t(mode))
        #expect(scratch.info("d").map { $0.st_mode & 0o7777 } == mode_t(mode))
    }

    @Test("ownership is applied, setuid kept after chown, and ids can be shifted", .enabled(if: Privilege.available, Privilege.reason))
    func ownership() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.file("suid", "x", mode: 0o4755, uid: 1000, gid: 2000)
        try writer.dir("home", mode: 0o750, uid: 1000, gid: 1000)
        try writer.symlink("link", "suid", uid: 33, gid: 34)
        try writer.finish()
        let suid = try #require(scratch.info("suid"))
        #expect(suid.st_uid == 1000 && suid.st_gid == 2000 && suid.st_mode & 0o7777 == 0o4755)
        #expect(scratch.info("home").map { ($0.st_uid, $0.st_gid) } ?? (0, 0) == (1000, 1000))
        #expect(scratch.info("link").map { ($0.st_uid, $0.st_gid) } ?? (0, 0) == (33, 34))

        let shifted = try Scratch()
        let mapped = try shifted.writer(RootfsWriterOptions(idMapping: IDMapping(hostUID: 100_000, hostGID: 200_000, size: 65536)))
        try mapped.file("f", uid: 5, gid: 6)
        try mapped.file("implicit/g")
        #expect(shifted.info("f").map { ($0.st_uid, $0.st_gid) } ?? (0, 0) == (100_005, 200_006))
        #expect(shifted.info("implicit").map { ($0.st_uid, $0.st_gid) } ?? (0, 0) == (100_000, 200_000))
        expectCode(.idOutOfRange) { try mapped.file("big", uid: 70_000) }
    }

    @Test("xattrs, including security.capability, are written; user.* is skipped on symlinks", .enabled(if: Privilege.available, Privilege.reason))
    func xattrs() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        // uid 0 first and then the capability: chown would clear it if the order were wrong.
        try writer.file("ping", "elf", mode: 0o755, uid: 0, gid: 0,
                        xattrs: ["security.capability": capabilityBlob, "user.origin": Array("layer".utf8)])
        try writer.dir("d", xattrs: ["user.dir": [1, 2, 3]])
        try writer.apply(LayerEntry(path: "l", kind: .symlink(to: "ping"), xattrs: ["user.nope": [1], "trusted.ok": [7]]))
        try writer.finish()
        #expect(xattr(scratch.root + "/ping", "security.capability") == capabilityBlob)
        #expect(xattr(scratch.root + "/ping", "user.origin") == Array("layer".utf8))
        #expect(xattr(scratch.root + "/d", "user.dir") == [1, 2, 3])
        #expect(xattr(scratch.root + "/l", "user.nope") == nil)
        #expect(xattr(scratch.root + "/l", "trusted.ok") == [7])
    }

    @Test("a directory entry over an existing directory replaces its xattrs")
    func directoryXattrsReplaced() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.dir("d", xattrs: ["user.old": [1]])
        try writer.file("d/child")
        try writer.dir("d", mode: 0o700, xattrs: ["user.new": [2]])
        try writer.finish()
        #expect(xattr(scratch.root + "/d", "user.old") == nil)
        #expect(xattr(scratch.root + "/d", "user.new") == [2])
        #expect(scratch.info("d/child") != nil)
        #expect(scratch.info("d").map { $0.st_mode & 0o7777 } == 0o700)
    }

    @Test("mtimes with nanoseconds; directory times survive their children")
    func mtimes() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.dir("a", mtime: .init(seconds: 1_000_000_000, nanoseconds: 123_456_789))
        try writer.dir("a/b", mtime: .init(seconds: 1_100_000_000))
        try writer.file("a/b/f", mtime: .init(seconds: 1_200_000_000, nanoseconds: 5))
        try writer.apply(LayerEntry(path: "a/l", kind: .symlink(to: "b"), mtime: .init(seconds: 1_300_000_000)))
        try writer.apply(LayerEntry(path: "./", kind: .directory, mode: 0o755, mtime: .init(seconds: 42)))
        try writer.finish()
        let a = try #require(scratch.info("a"))
        #expect(a.st_mtim.tv_sec == 1_000_000_000 && a.st_mtim.tv_nsec == 123_456_789)
        #expect(scratch.info("a/b")?.st_mtim.tv_sec == 1_100_000_000)
        #expect(scratch.info("a/b/f").map { ($0.st_mtim.tv_sec, $0.st_mtim.tv_nsec) } ?? (0, 0) == (1_200_000_000, 5))
        #expect(scratch.info("a/l")?.st_mtim.tv_sec == 1_300_000_000)
        #expect(Scratch.lstatPath(scratch.root)?.st_mtim.tv_sec == 42)
    }

    @Test("a file replaces a non-empty directory, a directory replaces a file, a file replaces a symlink")
    func replacements() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.dir("x")
        try writer.dir("x/y")
        try writer.file("x/y/z", "deep")
        try writer.file("x", "now a file")
        try writer.file("f", "file")
        try writer.dir("f", mode: 0o711)
        try writer.file("f/inside", "in")
        try writer.symlink("s", "/etc/hostname")
        try writer.file("s", "replaced")
        try writer.file("g", "one")
        try writer.file("g", "two")
        try writer.finish()
        #expect(scratch.contents("x") == "now a file")
        #expect(scratch.info("f").map { $0.st_mode & S_IFMT } == S_IFDIR)
        #expect(scratch.contents("f/inside") == "in")
        #expect(scratch.info("s").map { $0.st_mode & S_IFMT } == S_IFREG)
        #expect(scratch.contents("s") == "replaced")
        #expect(scratch.contents("g") == "two")
    }

    @Test("names that are not UTF-8 are kept byte for byte")
    func nonUTF8Names() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        let name: [UInt8] = [0x66, 0xFF, 0xFE, 0x2E, 0x74]  // "f\xff\xfe.t"
        try writer.apply(LayerEntry(pathBytes: name, kind: .regular))
        try writer.finish()
        let fd = open(scratch.root, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        let found = FileTree.children(ofOrEmpty: fd).map(\.name)
        #expect(found == [name])
    }

    @Test("limits: entry count, path length, component length, NUL bytes")
    func limits() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(RootfsWriterOptions(maxEntries: 2, maxPathLength: 64))
        let long = String(repeating: "p", count: 65)
        expectCode(.pathTooLong) { try writer.file(long) }
        try writer.file("ok")
        expectCode(.tooManyEntries) { try writer.file("third") }
        let other = try scratch.writer()
        expectCode(.pathTooLong) { try other.file(String(repeating: "n", count: 256)) }
        expectCode(.invalidPath) { try other.apply(LayerEntry(pathBytes: [0x61, 0x00, 0x62], kind: .regular)) }
        expectCode(.invalidPath) { try other.apply(LayerEntry(path: "/", kind: .regular)) }
        try other.file("parent-file")
        expectCode(.notADirectory) { try other.file("parent-file/child") }
    }

    @Test("the content closure's error is rethrown unchanged")
    func contentErrorRethrown() throws {
        struct DigestMismatch: Error {}
        let scratch = try Scratch()
        let writer = try scratch.writer()
        #expect(throws: DigestMismatch.self) {
            try writer.apply(LayerEntry(path: "f", kind: .regular)) { _ in throw DigestMismatch() }
        }
    }

    @Test("removeTree removes a tree without following symlinks in it")
    func removeTree() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.dir("a/b")
        try writer.file("a/b/c", "x")
        try writer.symlink("a/out", scratch.outside)
        try writer.finish()
        try RootfsWriter.removeTree(at: scratch.root)
        #expect(Scratch.lstatPath(scratch.root) == nil)
        #expect(scratch.outsideUntouched)
    }
}

extension FileTree {
    /// The children of `fd`, or none on error (tests only).
    static func children(ofOrEmpty fd: Int32) -> [Child] { (try? children(of: fd)) ?? [] }
}

/// Expects `body` to throw a ``LayerError`` with `code`.
func expectCode(_ code: LayerError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected LayerError \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as LayerError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected LayerError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
