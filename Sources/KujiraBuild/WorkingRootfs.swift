// A writable root filesystem for one step (RUN, COPY, WORKDIR): an overlay of the stage's
// layer chain with a fresh upper directory, whose diff becomes the step's layer. A stage with
// no layer yet (FROM scratch) gets a plain empty directory, archived whole.

import KujiraOCI
import KujiraArchive
import KujiraImage
import Glibc

final class WorkingRootfs {
    let id: String
    /// The root directory steps write into.
    let target: String
    private let snapshots: SnapshotStore
    private let mount: RootfsMount?
    private let lower: String?
    private var removed = false

    /// Prepares the rootfs of `image` for step container `id` at `target`.
    init(image: StageImage, id: String, target: String, snapshots: SnapshotStore) throws {
        self.id = id
        self.target = target
        self.snapshots = snapshots
        if image.layers.isEmpty {
            mount = nil
            lower = nil
            guard mkdir(target, 0o755) == 0 else {
                throw BuildError(.io, "cannot create \(target): \(String(cString: strerror(errno)))")
            }
        } else {
            let chain = try snapshots.ensureUnpacked(layers: image.layers, diffIDs: image.diffIDs, image: "build stage")
            mount = try snapshots.prepareRootfs(containerID: id, chain: chain, target: target)
            lower = chain.mode == .copy ? chain.snapshots.first?.path : nil
        }
    }

    /// Writes the changes made in the rootfs as a layer tar to `writer` (not finished).
    func diff(to writer: TarWriter, clampMtime: Int64?) throws {
        let differ = LayerDiffer(options: LayerDiffer.Options(clampMtime: clampMtime))
        if let mount, let upper = mount.upperDir {
            try differ.diffOverlayUpper(upper: upper, to: writer)
        } else if let lower {
            try differ.diffTrees(lower: lower, upper: target, to: writer)
        } else {
            try DirectoryArchiver(options: .init(mtimeClamp: clampMtime)).archive(directory: target, to: writer)
        }
    }

    /// Unmounts and deletes everything; safe to call twice.
    func remove() throws {
        guard !removed else { return }
        removed = true
        if mount != nil {
            try snapshots.removeRootfs(containerID: id)
        }
        if FileSystemCleanup.exists(target) {
            try RootfsWriter.removeTree(at: target)
        }
    }

    deinit { try? remove() }
}

enum FileSystemCleanup {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
