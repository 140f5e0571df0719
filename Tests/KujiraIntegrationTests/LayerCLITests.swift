import Foundation
import Testing

/// `kujira image unpack|mount|umount` against umoci, on the real kernel.
@Suite("kujira image unpack and mount", .serialized)
struct LayerCLITests {
    @Test("image unpack writes the tree umoci unpack writes, and a config.json",
          .enabled(if: Host.has(["umoci"], root: true)))
    func unpackMatchesUmoci() throws {
        try withTemporaryDirectory { scratch in
            let layout = "\(scratch)/layout"
            try TestImages.umociBusybox(layout: layout, scratch: scratch)
            let root = "\(scratch)/root"
            try mustRun(Host.kujira, ["--root", root, "pull", "oci:\(layout):latest", "busybox:t"])
            let unpacked = try kujira(root, ["image", "unpack", "busybox:t", "\(scratch)/ours"])
            #expect(unpacked.succeeded, "\(unpacked.stderr)")
            try mustRun("umoci", ["unpack", "--image", "\(layout):latest", "\(scratch)/theirs"])
            #expect(try TreeListing(root: "\(scratch)/ours/rootfs").entries == TreeListing(root: "\(scratch)/theirs/rootfs").entries)
            let config = try String(contentsOfFile: "\(scratch)/ours/config.json", encoding: .utf8)
            #expect(config.contains("\"sh\""))

            // A second unpack into the same, now non-empty, directory is refused.
            let again = try kujira(root, ["image", "unpack", "busybox:t", "\(scratch)/ours"])
            #expect(again.status == 1 && again.stderr.contains("not empty"), "\(again.stderr)")
        }
    }

    @Test("image mount shows the image read-only; umount removes the mount",
          .enabled(if: Host.has(["umoci"], root: true)))
    func mountAndUnmount() throws {
        try withTemporaryDirectory { scratch in
            let layout = "\(scratch)/layout"
            try TestImages.umociBusybox(layout: layout, scratch: scratch)
            let root = "\(scratch)/root"
            try mustRun(Host.kujira, ["--root", root, "pull", "oci:\(layout):latest", "busybox:t"])
            let target = "\(scratch)/mnt"
            let mounted = try kujira(root, ["image", "mount", "busybox:t", target])
            #expect(mounted.succeeded, "\(mounted.stderr)")
            #expect(FileManager.default.isExecutableFile(atPath: "\(target)/bin/busybox"))
            #expect(!FileManager.default.createFile(atPath: "\(target)/new-file", contents: Data()),
                    "a read-only mount accepted a write")
            let unmounted = try kujira(root, ["image", "umount", target])
            #expect(unmounted.succeeded, "\(unmounted.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(target)/bin/busybox"))

            // With the mount gone, removing the image reclaims its snapshots too.
            try mustRun(Host.kujira, ["--root", root, "rmi", "busybox:t"])
            let snapshots = try FileManager.default.contentsOfDirectory(atPath: "\(root)/snapshots")
                .filter { Int($0) != nil }
            #expect(snapshots.isEmpty, "snapshots left: \(snapshots)")
        }
    }

    /// The debootstrap tree scripts/test.sh makes (REFERENCE.md: ≈ 200 MB, 6.8k entries).
    static let debianTree = ProcessInfo.processInfo.environment["KUJIRA_DEBIAN_ROOTFS"] ?? "/var/cache/kujira-test/debian-minbase"

    @Test("Debian: import, then image unpack and umoci unpack give the same tree",
          .enabled(if: Host.requirePrivileged || (Host.has(["umoci"], root: true)
                   && FileManager.default.fileExists(atPath: "\(LayerCLITests.debianTree)/etc"))))
    func debianImportUnpack() throws {
        try withTemporaryDirectory { scratch in
            let root = "\(scratch)/root"
            let imported = try kujira(root, ["import", "--change", "CMD [\"bash\"]", Self.debianTree, "demo/debian:minbase"])
            #expect(imported.succeeded, "\(imported.stderr)")
            try mustRun(Host.kujira, ["--root", root, "push", "demo/debian:minbase", "oci:\(scratch)/layout:minbase"])
            try mustRun(Host.kujira, ["--root", root, "image", "unpack", "demo/debian:minbase", "\(scratch)/ours"])
            try mustRun("umoci", ["unpack", "--image", "\(scratch)/layout:minbase", "\(scratch)/theirs"])
            let ours = try TreeListing(root: "\(scratch)/ours/rootfs")
            let theirs = try TreeListing(root: "\(scratch)/theirs/rootfs")
            #expect(ours.entries.count > 5000)
            let differing = ours.entries.filter { theirs.entries[$0.key] != $0.value }.map(\.key).sorted()
            #expect(differing.isEmpty && ours.entries.count == theirs.entries.count,
                    "\(differing.count) entries differ, first: \(differing.prefix(5))")
        }
    }
}
