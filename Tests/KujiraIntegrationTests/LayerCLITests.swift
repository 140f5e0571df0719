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
}
