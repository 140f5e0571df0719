import Foundation
import Glibc
import Testing
@testable import KujiraImage

/// `prepareRootfs(volatile: true)`, what `run --rm` asks for: an overlay mounted with the
/// `volatile` option (no sync of the upper filesystem at unmount), removed like any other.
@Suite("Volatile rootfs")
struct VolatileRootfsTests {
    @Test("a volatile rootfs is an overlay with the volatile option, saved and removed like any other",
          .enabled(if: privileged, "needs root for overlay mounts"))
    func volatileOverlay() throws {
        let dir = try TemporaryDirectory("kj-vrootfs")
        defer { dir.remove() }
        let images = try ImageStore(root: dir.path)
        let (layers, diffIDs) = try store(try twoLayerImage(), in: images)
        let snapshots = try images.snapshotStore()
        try #require(snapshots.mode == .overlay, "\(snapshots.modeReason)")
        let chain = try snapshots.ensureUnpacked(layers: layers, diffIDs: diffIDs)
        let target = "\(dir.path)/mnt"
        let rootfs = try snapshots.prepareRootfs(containerID: "c1", chain: chain, target: target, volatile: true)
        defer { try? snapshots.removeRootfs(containerID: "c1") }
        #expect(rootfs.isVolatile == true)
        #expect(rootfs.options.hasSuffix(",volatile"))
        #expect(try snapshots.rootfs(of: "c1") == rootfs)
        // The kernel shows the option on the mount.
        let mountinfo = Self.mountinfo()
        let line = mountinfo.split(separator: "\n").first { $0.contains(" overlay ") && $0.contains("\(dir.path)/containers/c1/upper") }
        #expect(line != nil)
        #expect(line?.contains("volatile") == true)
        try writeFile("\(target)/added", Array("added".utf8))
        #expect(FileSystem.exists("\(dir.path)/containers/c1/upper/added"))
        try snapshots.removeRootfs(containerID: "c1")
        #expect(!FileSystem.exists("\(dir.path)/containers/c1"))
        #expect(!FileSystem.exists("\(target)/added"))  // unmounted

        // Without `volatile` nothing changes: no option, and the record has no flag.
        let plain = try snapshots.prepareRootfs(containerID: "c2", chain: chain, target: target)
        defer { try? snapshots.removeRootfs(containerID: "c2") }
        #expect(plain.isVolatile == nil && !plain.options.hasSuffix(",volatile"))
        try snapshots.removeRootfs(containerID: "c2")
    }

    /// /proc/self/mountinfo, read to its end: one read(2) of a proc file returns one page, so
    /// a long mount table (many tests mounting at once) lost the entries listed last.
    static func mountinfo() -> String {
        String(decoding: FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
    }
}
