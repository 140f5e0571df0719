import CKujiraSys
import Foundation
import Glibc
import KujiraArchive
import Testing
@testable import KujiraImage

/// Layer diffs: round trips through a real overlay mount (root) and through two trees,
/// the exact entries written, reproducibility and the mtime clamp.
@Suite("LayerDiffer: overlay upper and two-tree diffs")
struct LayerDifferTests {
    // MARK: Round trips through overlayfs

    @Test("diff of an overlay upper, applied on the lower, reproduces the merged view; so does diffTrees(lower, merged copy)",
          .enabled(if: OverlayMount.available, OverlayMount.reason), arguments: ["", "userxattr"])
    func overlayRoundTrip(extraOption: String) throws {
        let scratch = try DiffScratch()
        try scratch.buildLower()
        let mount = scratch.path("merged")
        try OverlayMount.mount(lower: scratch.path("lower"), upper: scratch.path("upper"), work: scratch.path("work"), at: mount, extra: extraOption)
        var mounted = true
        defer { if mounted { _ = umount(mount) } }
        try scratch.sh(DiffScratch.changeScript, in: mount)
        try setXattr(mount + "/xattr.txt", "user.test", "hello")
        try setXattr(mount + "/keep-dir", "user.dirattr", "d")
        let merged = try TreeListing(mount)
        try scratch.sh("cp -a \(mount)/. \(scratch.path("copy"))/", in: scratch.base)
        #expect(umount(mount) == 0)
        mounted = false

        // The upper really holds overlay's own forms, so the test covers them.
        #expect(try OverlayWhiteout.classify(directoryFD: scratch.fd("upper"), name: "delete.txt") == .whiteout)
        #expect(try OverlayWhiteout.classify(directoryFD: scratch.fd("upper"), name: "opaque") == .opaque)

        let differ = LayerDiffer(options: LayerDiffer.Options(clampMtime: 1_700_000_000))
        let layer = try tarBytes { try differ.diffOverlayUpper(upper: scratch.path("upper"), to: $0) }
        try scratch.sh("cp -a \(scratch.path("lower"))/. \(scratch.path("applied"))/", in: scratch.base)
        try applyLayer(layer, to: scratch.path("applied"))
        let applied = try TreeListing(scratch.path("applied"))
        #expect(applied.difference(from: merged) == [], "overlay diff applied on the lower differs from the merged view")

        // Two diffs of the same upper are byte-identical.
        #expect(try tarBytes { try differ.diffOverlayUpper(upper: scratch.path("upper"), to: $0) } == layer)

        // The same change seen as two trees.
        let copy = try TreeListing(scratch.path("copy"))
        #expect(copy.difference(from: merged) == [], "cp -a of the merged view is not faithful; the test setup is broken")
        let treeLayer = try tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("copy"), to: $0) }
        try scratch.sh("cp -a \(scratch.path("lower"))/. \(scratch.path("applied2"))/", in: scratch.base)
        try applyLayer(treeLayer, to: scratch.path("applied2"))
        #expect(try TreeListing(scratch.path("applied2")).difference(from: merged) == [], "tree diff applied on the lower differs from the merged view")
        #expect(try tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("copy"), to: $0) } == treeLayer)

        // What the overlay layer says, in the forms the spec asks for.
        let entries = try readEntries(layer)
        let paths = entries.map(\.path)
        #expect(paths.contains(".wh.delete.txt") && paths.contains(".wh.deldir"))
        #expect(!paths.contains { $0.hasPrefix("deldir/") })
        #expect(paths.contains("opaque/.wh..wh..opq"))
        #expect(paths.contains("nested/") && paths.contains("nested/deep/") && paths.contains("nested/deep/er/new.txt"))
        #expect(!paths.contains("keep.txt") || entries.contains { $0.path == "links/hard1" && $0.type == .hardlink && $0.linkname == "keep.txt" })
        #expect(entries.allSatisfy { $0.mtime <= TarTimestamp(seconds: 1_700_000_000) && $0.uname.isEmpty && $0.gname.isEmpty && $0.atime == nil })
        #expect(entries.allSatisfy { !$0.xattrs.keys.contains { $0.contains(".overlay.") } })
    }

    @Test("an upper written with redirect_dir (a renamed directory) is refused",
          .enabled(if: Privilege.available, Privilege.reason))
    func redirectRefused() throws {
        let scratch = try DiffScratch()
        try scratch.sh("mkdir -p upper/renamed && echo x > upper/renamed/f", in: scratch.base)
        try setXattr(scratch.path("upper/renamed"), "trusted.overlay.redirect", "/original")
        #expect {
            _ = try tarBytes { try LayerDiffer().diffOverlayUpper(upper: scratch.path("upper"), to: $0) }
        } throws: { ($0 as? LayerError)?.code == .unsupportedDiffSource }
    }

    // MARK: Two trees, no privileges needed

    @Test("diffTrees writes exactly the changes: whiteouts, replacements, parents, subtrees")
    func treeEntries() throws {
        let scratch = try DiffScratch()
        try scratch.sh("""
            mkdir -p lower/same lower/deldir/sub lower/dir2file/x lower/parent/child lower/modes
            echo same > lower/same/f; echo a > lower/deldir/sub/f; echo f > lower/file2dir
            echo old > lower/parent/child/f; echo m > lower/modes/f; echo gone > lower/gone
            touch -d @1600000000.5 lower/same/f lower/parent/child/f lower/modes/f
            cp -a lower/. upper/
            rm -r upper/deldir upper/dir2file upper/gone upper/file2dir
            echo now-a-file > upper/dir2file
            mkdir -p upper/file2dir/in && echo c > upper/file2dir/in/c
            echo new > upper/parent/child/f
            chmod 600 upper/modes/f
            """, in: scratch.base)
        let layer = try tarBytes { try LayerDiffer().diffTrees(lower: scratch.path("lower"), upper: scratch.path("upper"), to: $0) }
        let paths = try readEntries(layer).map(\.path)
        #expect(paths == [
            ".wh.deldir", "dir2file", "file2dir/", "file2dir/in/", "file2dir/in/c", ".wh.gone",
            "modes/", "modes/f", "parent/", "parent/child/", "parent/child/f",
        ])
    }

    @Test("content is compared when both mtimes may be truncated, or always when asked",
          arguments: [(0, false, true), (123, false, false), (123, true, true)])
    func contentRule(nanoseconds: Int, always: Bool, expectChange: Bool) throws {
        let scratch = try DiffScratch()
        let stamp = "@1600000000.\(String(format: "%09d", nanoseconds))"
        try scratch.sh("""
            echo aaaa > lower/f; echo bbbb > upper/f
            touch -d \(stamp) lower/f upper/f; touch -d @1600000000 lower upper
            """, in: scratch.base)
        let differ = LayerDiffer(options: LayerDiffer.Options(alwaysCompareContent: always))
        let paths = try readEntries(tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("upper"), to: $0) }).map(\.path)
        #expect(paths == (expectChange ? ["f"] : []))
    }

    @Test("hard links in the changes are grouped by inode; the clamp applies to every entry")
    func hardlinksAndClamp() throws {
        let scratch = try DiffScratch()
        try scratch.sh("""
            echo old > lower/gone
            echo data > upper/a; ln upper/a upper/b; mkdir upper/d; ln upper/a upper/d/c
            touch -d @2000000000 upper/a upper/d upper
            """, in: scratch.base)
        let differ = LayerDiffer(options: LayerDiffer.Options(clampMtime: 1_000))
        let layer = try tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("upper"), to: $0) }
        let entries = try readEntries(layer)
        #expect(entries.map(\.path) == ["a", "b", "d/", "d/c", ".wh.gone"])
        #expect(entries[0].type == .regular && entries[0].size == 5)
        #expect(entries[1].type == .hardlink && entries[1].linkname == "a")
        #expect(entries[3].type == .hardlink && entries[3].linkname == "a")
        #expect(entries.allSatisfy { $0.mtime == TarTimestamp(seconds: 1_000) })
        #expect(entries[4].mode == 0 && entries[4].size == 0 && entries[4].type == .regular)
    }

    @Test("an unchanged tree gives an empty layer; two diffs are byte-identical")
    func emptyAndDeterministic() throws {
        let scratch = try DiffScratch()
        try scratch.sh("mkdir -p lower/a/b && echo x > lower/a/b/f && ln -s b lower/a/l && cp -a lower/. upper/", in: scratch.base)
        let differ = LayerDiffer()
        let first = try tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("upper"), to: $0) }
        #expect(try readEntries(first).isEmpty)
        try scratch.sh("echo y > upper/a/new && rm upper/a/l", in: scratch.base)
        let one = try tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("upper"), to: $0) }
        let two = try tarBytes { try differ.diffTrees(lower: scratch.path("lower"), upper: scratch.path("upper"), to: $0) }
        #expect(one == two)
        #expect(try readEntries(one).map(\.path) == ["a/", "a/.wh.l", "a/new"])
    }

    @Test("SOURCE_DATE_EPOCH parsing", arguments: [("", nil), ("0", 0), ("1700000000", 1_700_000_000)] as [(String, Int64?)])
    func epochParsing(text: String, value: Int64?) throws {
        #expect(try LayerDiffer.Options.parseEpoch(text) == value)
    }

    @Test("a SOURCE_DATE_EPOCH that is not a number is an error", arguments: ["-1", "17e8", " 1", "abc"])
    func epochRejected(text: String) {
        #expect { try LayerDiffer.Options.parseEpoch(text) } throws: { ($0 as? LayerError)?.code == .invalidOption }
    }
}

// MARK: - Support

/// `<tmp>/kujira-diff-<uuid>/{lower,upper,work,merged,copy,applied,applied2}`.
final class DiffScratch {
    let base: String
    private var fds: [Int32] = []

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-diff-\(UUID().uuidString)").path
        for name in ["lower", "upper", "work", "merged", "copy", "applied", "applied2"] {
            try FileManager.default.createDirectory(atPath: base + "/" + name, withIntermediateDirectories: true)
        }
    }

    deinit {
        for fd in fds { close(fd) }
        try? RootfsWriter.removeTree(at: base)
    }

    func path(_ name: String) -> String { base + "/" + name }

    /// An fd of a directory under the scratch, closed with the scratch.
    func fd(_ name: String) -> Int32 {
        let fd = open(path(name), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        fds.append(fd)
        return fd
    }

    /// Runs a shell script (`set -e`) in `directory`.
    func sh(_ script: String, in directory: String) throws {
        let result = try runTool("/bin/sh", ["-c", "set -e; cd '\(directory)'; \(script)"])
        guard result.status == 0 else {
            throw LayerError(.systemCallFailed, "test script failed (\(result.status)): \(result.output)\n\(script)")
        }
    }

    /// The lower tree of the overlay round trip.
    func buildLower() throws {
        try sh("""
            echo keep > keep.txt; echo old > modify.txt; echo c > chmod.txt; echo o > chown.txt
            echo d > delete.txt; mkdir -p deldir/sub keep-dir dir2file opaque/sub links nested/deep/er
            echo a > deldir/a; echo b > deldir/sub/b; echo x > dir2file/x; echo f > file2dir
            echo 1 > opaque/old1; echo 3 > opaque/sub/old3; echo q > nested/deep/er/file.txt
            echo x > xattr.txt; ln -s keep.txt sym; echo k > keep-dir/k
            """, in: path("lower"))
    }

    /// The changes made through the mount.
    static let changeScript = """
        echo new > new.txt; mkdir newdir; echo f > newdir/f
        echo changed > modify.txt
        chmod 600 chmod.txt; chown 1000:1001 chown.txt
        rm delete.txt; rm -r deldir
        rm -r dir2file; echo now-a-file > dir2file
        rm file2dir; mkdir file2dir; echo c > file2dir/child
        rm -r opaque; mkdir opaque; echo n > opaque/new
        ln keep.txt links/hard1; ln new.txt links/hard2
        ln -s ../keep.txt links/sym; ln -sfn modify.txt sym
        echo deep > nested/deep/er/new.txt
        mkfifo fifo; mknod chardev c 1 3; chmod 4755 newdir/f
        """
}

/// The overlayfs mount of the round trip.
enum OverlayMount {
    /// Whether overlayfs can be mounted here (root, and the kernel has it), or must be.
    static let available = Privilege.required || (geteuid() == 0 && probe())
    static let reason: Comment = "needs root and overlayfs (mount -t overlay); run as root or set KUJIRA_REQUIRE_PRIVILEGED=1"

    /// Mounts and unmounts a tiny overlay.
    private static func probe() -> Bool {
        guard let scratch = try? DiffScratch() else { return false }
        guard (try? mount(lower: scratch.path("lower"), upper: scratch.path("upper"), work: scratch.path("work"), at: scratch.path("merged"))) != nil else {
            return false
        }
        return umount(scratch.path("merged")) == 0
    }

    /// Mounts overlayfs; `extra` adds an option (`userxattr`: overlay's own xattrs in `user.*`).
    static func mount(lower: String, upper: String, work: String, at target: String, extra: String = "") throws {
        let options = "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)" + (extra.isEmpty ? "" : "," + extra)
        if options.withCString({ Glibc.mount("overlay", target, "overlay", 0, $0) }) != 0 {
            throw LayerError(.systemCallFailed, "cannot mount overlayfs on \(target) (\(options)); the kernel needs overlayfs", cause: LayerError.Errno(errno))
        }
    }
}

/// Sets an xattr on `path` without following a final symlink.
func setXattr(_ path: String, _ name: String, _ value: String) throws {
    let fd = open(path, KUJIRA_O_PATH | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { throw LayerError(.systemCallFailed, "open \(path)", cause: LayerError.Errno(errno)) }
    defer { close(fd) }
    if kujira_setxattr_opath(fd, name, value, value.utf8.count) != 0 {
        throw LayerError(.systemCallFailed, "setxattr \(name) on \(path)", cause: LayerError.Errno(errno))
    }
}

/// The tar bytes that `body` writes (finished).
func tarBytes(_ body: (TarWriter) throws -> Void) throws -> [UInt8] {
    let sink = MemorySink()
    let writer = TarWriter(sink)
    try body(writer)
    try writer.finish()
    return sink.bytes
}

/// The entries of a tar stream.
func readEntries(_ bytes: [UInt8]) throws -> [TarEntry] {
    let reader = TarReader(MemorySource(bytes))
    var entries: [TarEntry] = []
    while let entry = try reader.next() { entries.append(entry) }
    return entries
}

/// The layer entry of a tar entry (the test's own conversion; `LayerUnpacker` owns the
/// production one).
func layerEntry(_ entry: TarEntry) -> LayerEntry? {
    let kind: LayerEntry.Kind
    switch entry.type {
    case .regular: kind = .regular
    case .directory: kind = .directory
    case .symlink: kind = .symlink(to: entry.linkname)
    case .hardlink: kind = .hardlink(to: entry.linkname)
    case .characterDevice: kind = .characterDevice(major: entry.devmajor, minor: entry.devminor)
    case .blockDevice: kind = .blockDevice(major: entry.devmajor, minor: entry.devminor)
    case .fifo: kind = .fifo
    case .other: return nil
    }
    return LayerEntry(path: entry.path, kind: kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                      mtime: LayerEntry.Timestamp(seconds: entry.mtime.seconds, nanoseconds: entry.mtime.nanoseconds),
                      xattrs: entry.xattrs)
}

/// Applies a layer with a RootfsWriter in OCI (in place) whiteout form.
func applyLayer(_ bytes: [UInt8], to root: String) throws {
    let writer = try RootfsWriter(root: root, options: RootfsWriterOptions(whiteoutFormat: .oci))
    let reader = TarReader(MemorySource(bytes))
    writer.beginLayer()
    while let entry = try reader.next() {
        guard let layer = layerEntry(entry) else { continue }
        try writer.apply(layer) { fd in try reader.copyContent(to: fd, name: entry.path) }
    }
    try writer.finish()
}

/// A canonical listing of a tree: path, type, mode, owner, size, content hash, link target,
/// device numbers and xattrs (overlay's own and `system.*` left out); no times.
struct TreeListing {
    var lines: [String] = []

    init(_ root: String) throws {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LayerError(.systemCallFailed, "open \(root)", cause: LayerError.Errno(errno)) }
        defer { close(fd) }
        try walk(fd, prefix: "", tree: root)
    }

    private mutating func walk(_ fd: Int32, prefix: String, tree: String) throws {
        let archiver = DirectoryArchiver()
        for name in try DirectoryArchiver.sortedNames(fd, name: tree) {
            guard let file = try archiver.file(named: name, in: fd, prefix: prefix, tree: tree) else { continue }
            let e = file.entry
            let xattrs = e.xattrs.filter { !$0.key.contains(".overlay.") }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))" }.joined(separator: ",")
            var content = ""
            if case .regular = e.type {
                let fileFD = try DirectoryArchiver.openRegular(file, named: name, in: fd, tree: tree)
                defer { close(fileFD) }
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fileFD, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    for byte in buffer[..<n] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                }
                content = String(hash, radix: 16)
            }
            lines.append("\(e.path) \(e.type) \(String(e.mode, radix: 8)) \(e.uid):\(e.gid) size=\(e.size) \(content) -> \(e.linkname) dev=\(e.devmajor):\(e.devminor) [\(xattrs)]")
            if case .directory = e.type {
                let child = try DirectoryArchiver.openDirectory(name, in: fd, path: file.path, tree: tree)
                defer { close(child) }
                try walk(child, prefix: file.path + "/", tree: tree)
            }
        }
    }

    /// Lines that differ between the two listings, marked `-` (only in `other`) or `+`.
    func difference(from other: TreeListing) -> [String] {
        let mine = Set(lines), theirs = Set(other.lines)
        return other.lines.filter { !mine.contains($0) }.map { "- " + $0 } + lines.filter { !theirs.contains($0) }.map { "+ " + $0 }
    }
}
