import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

/// Two layers: the second deletes a file, makes a directory opaque and replaces a directory
/// with a file.
func twoLayerImage() throws -> [TestLayer] {
    [
        try TestLayer([.dir("etc/"), .file("etc/keep", "keep\n"), .file("etc/gone", "gone\n"),
                       .dir("opaque/"), .file("opaque/old", "old\n"), .dir("swap/"), .file("swap/inner", "inner\n")]),
        try TestLayer([.dir("etc/"), .whiteout("etc/.wh.gone"), .file("etc/new", "new\n"),
                       .dir("opaque/"), .whiteout("opaque/.wh..wh..opq"), .file("opaque/fresh", "fresh\n"),
                       .file("swap", "now a file\n")]),
    ]
}

/// Puts `layers` into `store` (blobs only) and returns descriptors and diff_ids.
func store(_ layers: [TestLayer], in store: ImageStore) throws -> (layers: [Descriptor], diffIDs: [Digest]) {
    for layer in layers { _ = try store.content.write(layer.blob, mediaType: layer.descriptor.mediaType, expected: layer.descriptor.digest) }
    return (layers.map(\.descriptor), layers.map(\.diffID))
}

@Suite("SnapshotStore")
struct SnapshotStoreTests {
    @Test func chainIDsFollowTheImageSpec() throws {
        let a = try Digest(parsing: "sha256:" + String(repeating: "a", count: 64))
        let b = try Digest(parsing: "sha256:" + String(repeating: "b", count: 64))
        let ids = SnapshotStore.chainIDs(diffIDs: [a, b])
        #expect(ids[0] == a)
        #expect(ids[1] == Digest.sha256(of: Array("\(a) \(b)".utf8)))
        #expect(SnapshotStore.chainIDs(diffIDs: []).isEmpty)
    }

    @Test("copy mode: chain unpacked once with whiteouts applied, rootfs is a copy, removal keeps the snapshot")
    func copyMode() throws {
        let dir = try TemporaryDirectory("kj-snap")
        defer { dir.remove() }
        let images = try ImageStore(root: "\(dir.path)/root")
        let (layers, diffIDs) = try store(try twoLayerImage(), in: images)
        let snapshots = try images.snapshotStore(mode: .copy)
        let chain = try snapshots.ensureUnpacked(layers: layers, diffIDs: diffIDs)
        #expect(chain.snapshots.count == 1)
        #expect(try snapshots.ensureUnpacked(layers: layers, diffIDs: diffIDs) == chain)  // reused
        let fs = chain.snapshots[0].path
        #expect(!FileSystem.exists("\(fs)/etc/gone") && FileSystem.exists("\(fs)/etc/new"))
        #expect(try FileSystem.listDirectory("\(fs)/opaque") == ["fresh"])
        #expect(!FileSystem.isDirectory("\(fs)/swap"))

        let target = "\(dir.path)/rootfs"
        let rootfs = try snapshots.prepareRootfs(containerID: "c1", chain: chain, target: target)
        #expect(rootfs.mode == .copy)
        try writeFile("\(target)/etc/keep", Array("changed".utf8))
        try snapshots.removeRootfs(containerID: "c1")
        #expect(!FileSystem.exists(target))
        #expect(try FileSystem.readFile("\(fs)/etc/keep") == Array("keep\n".utf8))
    }

    @Test("a temp dir left by a killed unpack is removed at the next start")
    func abandonedUnpackIsCleaned() throws {
        let dir = try TemporaryDirectory("kj-snap")
        defer { dir.remove() }
        let content = try ContentStore(root: dir.path)
        _ = try SnapshotStore(content: content, mode: .copy)
        let stale = "\(dir.path)/snapshots/tmp/\(String(repeating: "c", count: 64))-999-1"
        try FileSystem.makeDirectories("\(stale)/fs/usr")
        _ = try SnapshotStore(content: content)
        #expect(!FileSystem.exists(stale))
    }

    @Test("concurrent unpacks of one chain commit one snapshot")
    func concurrentUnpacks() async throws {
        let dir = try TemporaryDirectory("kj-snap")
        defer { dir.remove() }
        let images = try ImageStore(root: dir.path)
        let (layers, diffIDs) = try store(try twoLayerImage(), in: images)
        let snapshots = try images.snapshotStore(mode: .copy)
        let chains = try await withThrowingTaskGroup(of: SnapshotChain.self) { group in
            for _ in 0..<4 { group.addTask { try snapshots.ensureUnpacked(layers: layers, diffIDs: diffIDs) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(chains).count == 1)
        #expect(try FileSystem.listDirectory(snapshots.directory).compactMap { Int($0) }.count == 1)
    }

    @Test func pruneKeepsOnlyWhatIsNamed() throws {
        let dir = try TemporaryDirectory("kj-snap")
        defer { dir.remove() }
        let images = try ImageStore(root: dir.path)
        let (layers, diffIDs) = try store(try twoLayerImage(), in: images)
        let snapshots = try images.snapshotStore(mode: .copy)
        let full = try snapshots.ensureUnpacked(layers: layers, diffIDs: diffIDs)
        let base = try snapshots.ensureUnpacked(layers: [layers[0]], diffIDs: [diffIDs[0]])
        #expect(try snapshots.prune(keeping: [full.chainID]) == [base.chainID])
        #expect(try snapshots.snapshot(of: base.chainID) == nil)
        #expect(try snapshots.snapshot(of: full.chainID) != nil)
    }

    @Test("overlay mode: one snapshot per layer, rootfs is a mount, removing the container keeps the lower layers",
          .enabled(if: privileged, "needs root for overlay mounts and trusted.* xattrs"))
    func overlayMode() throws {
        let dir = try TemporaryDirectory("kj-snap")
        defer { dir.remove() }
        let images = try ImageStore(root: dir.path)
        let (layers, diffIDs) = try store(try twoLayerImage(), in: images)
        let snapshots = try images.snapshotStore()
        #expect(snapshots.mode == .overlay, "\(snapshots.modeReason)")
        let chain = try snapshots.ensureUnpacked(layers: layers, diffIDs: diffIDs)
        #expect(chain.snapshots.count == 2)
        #expect(chain.snapshots[1].chainID == chain.chainID)
        let before = try chain.snapshots.map { try canonicalListing($0.path) }

        let target = "\(dir.path)/mnt"
        let rootfs = try snapshots.prepareRootfs(containerID: "c1", chain: chain, target: target)
        defer { try? snapshots.removeRootfs(containerID: "c1") }
        #expect(rootfs.options.hasPrefix("lowerdir=\(chain.snapshots[1].path):\(chain.snapshots[0].path),upperdir="))
        // The merged view applies the whiteouts.
        #expect(!FileSystem.exists("\(target)/etc/gone") && FileSystem.exists("\(target)/etc/keep"))
        #expect(try FileSystem.listDirectory("\(target)/opaque") == ["fresh"])
        #expect(!FileSystem.isDirectory("\(target)/swap"))
        // Writes go to the upper directory only.
        try writeFile("\(target)/etc/keep", Array("changed".utf8))
        try writeFile("\(target)/added", Array("added".utf8))
        #expect(unlink("\(target)/etc/new") == 0)
        #expect(FileSystem.exists("\(dir.path)/containers/c1/upper/added"))

        try snapshots.removeRootfs(containerID: "c1")
        #expect(!FileSystem.exists("\(dir.path)/containers/c1"))
        #expect(!FileSystem.exists("\(target)/etc"))  // unmounted
        #expect(try chain.snapshots.map { try canonicalListing($0.path) } == before)
    }

    @Test("ImageStore.mount and unmount, read-only and writable",
          .enabled(if: privileged, "needs root for overlay mounts"))
    func imageMount() throws {
        let dir = try TemporaryDirectory("kj-snap")
        defer { dir.remove() }
        let images = try ImageStore(root: "\(dir.path)/root")
        try TestLayout(directory: "\(dir.path)/layout", layers: try twoLayerImage()).importInto(images, name: "two")
        let target = "\(dir.path)/mnt"
        try images.mount("two", at: target)
        #expect(FileSystem.exists("\(target)/etc/keep"))
        #expect(open("\(target)/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644) == -1 && errno == EROFS)
        try images.unmount(target)
        #expect(!FileSystem.exists("\(target)/etc/keep"))

        try images.mount("two", at: target, readOnly: false)
        try writeFile("\(target)/new", Array("x".utf8))
        try images.unmount(target)
        #expect(!FileSystem.exists("\(target)/new"))
        try images.mount("two", at: target, readOnly: false)
        #expect(!FileSystem.exists("\(target)/new"))  // a fresh upper each time
        try images.unmount(target)
    }
}
