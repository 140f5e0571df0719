#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI
import Foundation

/// `kujira image unpack` and `kujira image mount`/`umount` as library calls.
extension ImageStore {
    /// The snapshot store under this store's root (see ``SnapshotStore``).
    /// - Parameter mode: force a mode; nil probes on first use, then reuses the recorded one.
    public func snapshotStore(mode: SnapshotStore.Mode? = nil, unpackOptions: LayerUnpackOptions = LayerUnpackOptions()) throws -> SnapshotStore {
        try SnapshotStore(content: content, mode: mode, unpackOptions: unpackOptions)
    }

    /// Writes an OCI runtime bundle for `nameOrID` into `directory`, as `umoci unpack` does:
    /// `directory/rootfs` (every layer unpacked in order straight into it, OCI whiteouts
    /// applied in place, both digests of every layer verified) and `directory/config.json`
    /// (see ``BundleSpec``).
    ///
    /// `directory` must not exist or be empty. On any error, everything this call created is
    /// removed, so a bundle is never left half-written or unverified.
    /// - Returns: the spec written.
    /// - Throws: ``ImageStoreError`` (lookup, documents, a non-empty directory) or
    ///   ``LayerError`` (a layer that fails verification or is hostile).
    @discardableResult
    public func unpackBundle(_ nameOrID: String, to directory: String, unpackOptions: LayerUnpackOptions = LayerUnpackOptions()) throws -> Spec {
        let details = try self.details(of: try lookup(nameOrID))
        let created = mkdir(directory, 0o700) == 0
        if !created {
            guard errno == EEXIST, FileSystem.isDirectory(directory) else {
                throw ImageStoreError.posix("mkdir", path: directory, errno: errno)
            }
            guard try FileSystem.listDirectory(directory).isEmpty else {
                throw ImageStoreError(.invalidArgument, "bundle directory \(directory) is not empty; give a new or empty directory")
            }
        }
        let rootfs = "\(directory)/rootfs"
        do {
            if mkdir(rootfs, 0o755) != 0 { throw ImageStoreError.posix("mkdir", path: rootfs, errno: errno) }
            let layers = details.manifest.layers, diffIDs = details.configuration.rootfs.diffIDs
            guard layers.count == diffIDs.count else {
                throw ImageStoreError(.malformedDocument, "image \(nameOrID) has \(layers.count) layers but its config lists \(diffIDs.count) diff_ids; the image is malformed — pull it again")
            }
            let writer = try RootfsWriter(root: rootfs, options: RootfsWriterOptions(whiteoutFormat: .oci))
            let unpacker = LayerUnpacker(options: unpackOptions)
            for (layer, diffID) in zip(layers, diffIDs) {
                writer.beginLayer()
                let fd = try content.openForReading(layer.digest)
                defer { close(fd) }
                try unpacker.unpack(blobFD: fd, layer: layer, diffID: diffID, into: writer)
            }
            try writer.finish()
            let spec = try BundleSpec.make(from: details.configuration, rootfs: rootfs)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try FileSystem.writeFileAtomically("\(directory)/config.json", Array(try encoder.encode(spec)), mode: 0o600)
            return spec
        } catch {
            if created {
                try? RootfsWriter.removeTree(at: directory)
            } else {
                for name in (try? FileSystem.listDirectory(directory)) ?? [] { try? RootfsWriter.removeTree(at: "\(directory)/\(name)") }
            }
            throw error
        }
    }

    /// Mounts the root filesystem of `nameOrID` at `directory` for inspection (unpacking its
    /// snapshots first if needed). Read-only: an overlay of the layers with no upper
    /// directory. Writable: an overlay with an upper and work directory that ``unmount(_:)``
    /// discards. In copy mode the tree is copied to `directory` instead.
    /// - Returns: the mount.
    @discardableResult
    public func mount(_ nameOrID: String, at directory: String, readOnly: Bool = true) throws -> RootfsMount {
        let snapshots = try snapshotStore()
        let chain = try snapshots.ensureUnpacked(try details(of: try lookup(nameOrID)))
        let id = Self.mountID(for: directory)
        if readOnly && snapshots.mode == .overlay {
            try snapshots.removeRootfs(containerID: id)  // A stale record of an earlier mount here.
            try FileSystem.makeDirectories(directory)
            let rootfs = RootfsMount(mode: .overlay, target: directory, lowerDirs: chain.snapshots.reversed().map(\.path), upperDir: nil, workDir: nil)
            try FileSystem.makeDirectories("\(snapshots.containersDirectory)/\(id)", mode: 0o700)
            try FileSystem.writeFileAtomically("\(snapshots.containersDirectory)/\(id)/rootfs.json", Array(try Self.encode(rootfs).utf8))
            do {
                try SnapshotStore.mountOverlay(rootfs)
            } catch {
                try? snapshots.removeRootfs(containerID: id)
                throw error
            }
            return rootfs
        }
        return try snapshots.prepareRootfs(containerID: id, chain: chain, target: directory)
    }

    /// Unmounts what ``mount(_:at:readOnly:)`` mounted at `directory` and discards its upper
    /// directory (or copied tree). Unmounting a directory that is not mounted is not an error.
    public func unmount(_ directory: String) throws {
        let snapshots = try snapshotStore()
        let id = Self.mountID(for: directory)
        if try snapshots.rootfs(of: id) != nil {
            try snapshots.removeRootfs(containerID: id)
        } else {
            try SnapshotStore.unmount(directory)
        }
    }

    /// The pseudo container id of a mount for inspection: derived from the absolute path.
    static func mountID(for directory: String) -> String {
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        let normalized = absolute.split(separator: "/").joined(separator: "/")
        return "mount-" + Digest.sha256(of: Array(normalized.utf8)).encoded.prefix(24)
    }
}
