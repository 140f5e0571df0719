import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

extension Tag {
    /// Tests that take a minute or more (the Debian image).
    @Tag static var slow: Self
}

/// The directory where Debian's busybox-static is, for the busybox image.
let busyboxBinary: String? = ["/bin/busybox", "/usr/bin/busybox"].first { (path: String) in access(path, X_OK) == 0 }
/// A debootstrap minbase tree (REFERENCE.md), for the Debian image.
let debianTree = ProcessInfo.processInfo.environment["KUJIRA_DEBIAN_ROOTFS"] ?? "/var/tmp/kj/debian"

/// `kujira image unpack` (``ImageStore/unpackBundle(_:to:)``) against `umoci unpack` of the
/// same OCI layout: the two rootfs trees must list the same (see ``canonicalListing(_:)``).
@Suite("UmociEquivalence", .enabled(if: privileged && umociAvailable, "needs root (ownership, devices, xattrs) and umoci"))
struct UmociEquivalenceTests {
    /// Imports `layout:tag`, unpacks it both ways and compares the trees.
    func compare(layout: String, tag: String, in dir: String, minimumEntries: Int) throws {
        let store = try ImageStore(root: "\(dir)/store")
        _ = try store.importImage(from: try OCILayout.read(directory: layout), tag: tag, name: "image")
        try umociUnpack(layout: layout, tag: tag, bundle: "\(dir)/umoci")
        try store.unpackBundle("image", to: "\(dir)/kujira")
        let theirs = try canonicalListing("\(dir)/umoci/rootfs")
        let ours = try canonicalListing("\(dir)/kujira/rootfs")
        #expect(ours.count == theirs.count)
        #expect(ours.count >= minimumEntries)
        let difference = listingDifference(theirs, ours)
        #expect(difference.isEmpty, "umoci (-) vs kujira (+):\n\(difference.joined(separator: "\n"))")
    }

    /// `umoci init/new/insert ROOTFS /` into `layout:latest`.
    func umociImage(layout: String, rootfs: String) throws {
        let umoci = which("umoci") ?? "/usr/bin/umoci"
        for args in [["init", "--layout", layout], ["new", "--image", "\(layout):latest"],
                     ["insert", "--image", "\(layout):latest", rootfs, "/"],
                     ["config", "--image", "\(layout):latest", "--config.cmd=sh"]] {
            let result = try runTool(umoci, args)
            try #require(result.status == 0, "umoci \(args.joined(separator: " ")): \(result.output)")
        }
    }

    @Test("busybox image made by umoci from busybox-static", .enabled(if: busyboxBinary != nil, "needs busybox-static"))
    func busybox() throws {
        let dir = try TemporaryDirectory("kj-umoci")
        defer { dir.remove() }
        let rootfs = "\(dir.path)/bb"
        try FileSystem.makeDirectories("\(rootfs)/bin")
        try FileSystem.makeDirectories("\(rootfs)/etc")
        #expect(runToolOK("/bin/cp", ["-a", busyboxBinary ?? "", "\(rootfs)/bin/busybox"]))
        for applet in ["sh", "ls", "cat", "echo", "env", "id", "sleep", "true", "false", "mkdir", "rm"] {
            symlink("busybox", "\(rootfs)/bin/\(applet)")
        }
        try writeFile("\(rootfs)/etc/passwd", Array("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n".utf8))
        try umociImage(layout: "\(dir.path)/layout", rootfs: rootfs)
        try compare(layout: "\(dir.path)/layout", tag: "latest", in: dir.path, minimumEntries: 15)
    }

    @Test("three hand-made layers: deletions, a directory replaced by a file, an opaque directory, links, xattrs, owners")
    func multiLayer() throws {
        let dir = try TemporaryDirectory("kj-umoci")
        defer { dir.remove() }
        var layers = try twoLayerImage()
        layers.append(try TestLayer([
            .dir("etc/"), .whiteout("etc/.wh.keep"),
            .file("bin/tool", "#!/bin/sh\n", mode: 0o4755, uid: 1000, gid: 1000, xattrs: ["user.note": Array("hi".utf8)]),
            .hardlink("bin/tool-again", to: "bin/tool"),
            .symlink("bin/abs", to: "/etc/new"), .symlink("bin/rel", to: "../etc/new"),
            .dir("opaque/"), .file("opaque/fresh", "replaced\n", mode: 0o600),
            .whiteout(".wh.swap"), .dir("swap/", mode: 0o700), .file("swap/again", "dir again\n"),
            TestEntry(entry: TarEntry(path: "run/fifo", type: .fifo, mode: 0o640)),
            TestEntry(entry: TarEntry(path: "dev/null", type: .characterDevice, mode: 0o666, devmajor: 1, devminor: 3)),
            .dir("private/", mode: 0o700),
        ]))
        let layout = try TestLayout(directory: "\(dir.path)/layout", layers: layers)
        try compare(layout: layout.directory, tag: layout.tag, in: dir.path, minimumEntries: 15)
    }

    @Test("Debian minbase image made by umoci insert (about a minute)", .tags(.slow),
          .enabled(if: FileSystem.isDirectory("\(debianTree)/etc") || ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1", "needs a debootstrap tree at \(debianTree) (KUJIRA_DEBIAN_ROOTFS)"))
    func debian() throws {
        let dir = try TemporaryDirectory("kj-umoci")
        defer { dir.remove() }
        try umociImage(layout: "\(dir.path)/layout", rootfs: debianTree)
        try compare(layout: "\(dir.path)/layout", tag: "latest", in: dir.path, minimumEntries: 6000)
    }
}

/// Runs a tool and says whether it exited 0.
func runToolOK(_ tool: String, _ args: [String]) -> Bool {
    (try? runTool(tool, args))?.status == 0
}
