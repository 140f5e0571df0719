#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI
import Foundation
import CKujiraSys

/// Unpacked layer chains, shared by every container through overlayfs (containerd's
/// `snapshots` and Docker's `overlay2` are the models), under `<root>/snapshots/`.
///
/// Snapshots are keyed by layer **chain ID** (image-spec config.md, "Layer ChainID"), so two
/// images that share base layers share their snapshots. Two modes, chosen once per root by
/// probing the filesystem and recorded in `<root>/snapshots/mode` (see ``mode`` and
/// ``modeReason``):
///
/// - ``Mode/overlay`` (default where overlayfs mounts on the root's filesystem): each layer
///   is unpacked once into its own directory `<root>/snapshots/<n>/fs` with overlayfs
///   whiteouts; a container rootfs is an overlay mount of the chain plus an upper and a work
///   directory under `<root>/containers/<id>/`. Creating a rootfs costs one mount, whatever
///   the image size. Short numeric ids keep `lowerdir=` under the one-page mount-option limit.
/// - ``Mode/copy`` (no overlayfs, or no `trusted.*` xattrs, e.g. rootless): the whole chain is
///   unpacked into one directory with OCI whiteouts applied in place, and a container rootfs
///   is a copy of it made by `cp -a --reflink=auto` (instant on btrfs/XFS, a full copy
///   elsewhere).
///
/// Layout: `snapshots/<n>/{fs,info.json}` (committed snapshots), `snapshots/chains/<chain hex>`
/// (a symlink to `../<n>`: the chain-ID index, each entry replaced atomically),
/// `snapshots/locks/<chain hex>` (flock files), `snapshots/tmp/` (unpacks in progress).
///
/// Crash and concurrency safety: an unpack writes into `tmp/`, holding an exclusive `flock`
/// on the chain's lock file; it is verified (both digests), synced, then renamed to `<n>`
/// (`RENAME_NOREPLACE`, so two writers never share an id) and only then indexed. A second
/// process unpacking the same chain waits for the lock and then reuses the result. A
/// `kill -9` leaves a `tmp/` directory, which the next ``SnapshotStore`` removes once it can
/// take that chain's lock, or a committed but unindexed `<n>`, which ``prune(keeping:)``
/// removes.
public final class SnapshotStore: Sendable {
    /// How snapshots are stored and stacked.
    public enum Mode: String, Sendable, Hashable, Codable {
        /// One directory per layer, stacked with overlayfs.
        case overlay
        /// One directory per chain; container rootfs are copies.
        case copy
    }

    /// The Kujira root (the snapshots live in `<root>/snapshots`).
    public let root: String
    /// The mode of this root.
    public let mode: Mode
    /// Why ``mode`` was chosen, for `kujira info` and logs.
    public let modeReason: String
    /// Whether snapshots are `syncfs`'d before they are committed (default true), so a power
    /// loss never leaves a committed snapshot with missing data.
    public let durable: Bool

    let content: ContentStore
    let unpacker: LayerUnpacker
    var directory: String { "\(root)/snapshots" }
    var containersDirectory: String { "\(root)/containers" }

    /// Opens the snapshot store of `content`'s root, choosing the mode on first use and
    /// removing temporary directories left by killed unpacks.
    /// - Parameters:
    ///   - mode: force a mode; nil probes (first use) or reads the recorded mode.
    ///   - unpackOptions: how layers are read (bomb limit, pipelining).
    /// - Throws: ``ImageStoreError`` `.io`, or `.invalidArgument` when `mode` differs from the
    ///   mode the root's snapshots were made in.
    public init(content: ContentStore, mode requested: Mode? = nil, unpackOptions: LayerUnpackOptions = LayerUnpackOptions(),
                durable: Bool = true) throws {
        self.content = content
        self.root = content.root
        self.unpacker = LayerUnpacker(options: unpackOptions)
        self.durable = durable
        let directory = "\(content.root)/snapshots"
        for sub in ["", "/chains", "/locks", "/tmp"] { try FileSystem.makeDirectories(directory + sub, mode: 0o700) }
        try FileSystem.makeDirectories("\(content.root)/containers", mode: 0o700)
        let modeFile = "\(directory)/mode"
        if let recorded = try? FileSystem.readFile(modeFile),
           let stored = Mode(rawValue: String(decoding: recorded, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
            if let requested, requested != stored {
                throw ImageStoreError(.invalidArgument, "the snapshots under \(directory) are in \(stored) mode, not \(requested); use another root, or remove \(directory) to start over")
            }
            mode = stored
            modeReason = "recorded in \(modeFile)"
        } else {
            if let requested {
                (mode, modeReason) = (requested, "requested")
            } else {
                (mode, modeReason) = Self.probe(directory: directory)
            }
            try FileSystem.writeFileAtomically(modeFile, Array("\(mode.rawValue)\n".utf8))
        }
        removeAbandonedUnpacks()
    }

    // MARK: - Chain IDs

    /// The chain ID of each prefix of `diffIDs` (image-spec config.md, "Layer ChainID"):
    /// `ChainID(L0) = DiffID(L0)`, `ChainID(L0…Ln) = sha256(ChainID(L0…Ln-1) + " " + DiffID(Ln))`.
    public static func chainIDs(diffIDs: [Digest]) -> [Digest] {
        var result: [Digest] = []
        result.reserveCapacity(diffIDs.count)
        for diffID in diffIDs {
            if let parent = result.last {
                result.append(Digest.sha256(of: Array("\(parent) \(diffID)".utf8)))
            } else {
                result.append(diffID)
            }
        }
        return result
    }

    // MARK: - Unpacking

    /// Makes sure every snapshot of `image`'s layer chain exists, unpacking (and verifying)
    /// the missing ones from the content store, bottom first, and reusing the others.
    /// - Throws: ``ImageStoreError`` when the manifest and config disagree or a blob is
    ///   missing; ``LayerError`` when a layer fails verification or is hostile (nothing is
    ///   committed then).
    public func ensureUnpacked(_ image: ImageDetails) throws -> SnapshotChain {
        try ensureUnpacked(layers: image.manifest.layers, diffIDs: image.configuration.rootfs.diffIDs, image: image.record.name)
    }

    /// Like ``ensureUnpacked(_:)``, from a manifest's layers and its config's diff_ids.
    public func ensureUnpacked(layers: [Descriptor], diffIDs: [Digest], image: String = "image") throws -> SnapshotChain {
        guard layers.count == diffIDs.count else {
            throw ImageStoreError(.malformedDocument, "\(image) has \(layers.count) layers but its config lists \(diffIDs.count) diff_ids; the image is malformed — pull it again")
        }
        let chainIDs = Self.chainIDs(diffIDs: diffIDs)
        switch mode {
        case .overlay:
            var snapshots: [Snapshot] = []
            for index in layers.indices {
                let snapshot = try withChainLock(chainIDs[index]) {
                    if let existing = try lookup(chainIDs[index]) { return existing }
                    return try unpackAndCommit(chainID: chainIDs[index], parent: index > 0 ? chainIDs[index - 1] : nil,
                                               layers: [layers[index]], diffIDs: [diffIDs[index]], format: .overlay(xattrNamespace: "trusted"))
                }
                snapshots.append(snapshot)
            }
            return SnapshotChain(chainID: chainIDs.last ?? Self.emptyChainID, mode: mode, snapshots: snapshots)
        case .copy:
            let top = chainIDs.last ?? Self.emptyChainID
            let snapshot = try withChainLock(top) {
                if let existing = try lookup(top) { return existing }
                return try unpackAndCommit(chainID: top, parent: nil, layers: layers, diffIDs: diffIDs, format: .oci)
            }
            return SnapshotChain(chainID: top, mode: mode, snapshots: [snapshot])
        }
    }

    /// The chain ID used for an image with no layers: the digest of nothing.
    static let emptyChainID = Digest.sha256(of: [UInt8]())

    /// The committed snapshot of `chainID`, or nil.
    public func snapshot(of chainID: Digest) throws -> Snapshot? {
        try lookup(chainID)
    }

    func lookup(_ chainID: Digest) throws -> Snapshot? {
        let link = "\(directory)/chains/\(chainID.encoded)"
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(link, &buffer, buffer.count - 1)
        if n < 0 {
            if errno == ENOENT { return nil }
            throw ImageStoreError.posix("readlink", path: link, errno: errno)
        }
        let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard target.hasPrefix("../"), let id = Int(target.dropFirst(3)), id > 0 else {
            throw ImageStoreError(.io, "snapshot index entry \(link) points to \(target), not to a snapshot; remove it and unpack the image again")
        }
        let path = "\(directory)/\(id)/fs"
        guard FileSystem.isDirectory(path) else { return nil }  // Pruned concurrently: unpack again.
        return Snapshot(id: id, chainID: chainID, path: path)
    }

    /// Unpacks `layers` into a fresh directory under `tmp/`, verifies, syncs, commits it as
    /// the next free `<n>` and indexes it. Called with the chain lock held.
    private func unpackAndCommit(chainID: Digest, parent: Digest?, layers: [Descriptor], diffIDs: [Digest],
                                 format: RootfsWriterOptions.WhiteoutFormat) throws -> Snapshot {
        let temp = "\(directory)/tmp/\(chainID.encoded)-\(FileSystem.uniqueSuffix())"
        try FileSystem.makeDirectories("\(temp)/fs", mode: 0o755)
        do {
            try unpackChain(layers: layers, diffIDs: diffIDs, into: "\(temp)/fs", format: format)
            let info = SnapshotInfo(chainID: chainID, parent: parent, diffID: diffIDs.last, layer: layers.last?.digest, mode: mode)
            try FileSystem.writeFileAtomically("\(temp)/info.json", Array(try ImageStore.encode(info).utf8))
            if durable {
                let fd = try FileSystem.open(temp, O_RDONLY | O_DIRECTORY)
                defer { close(fd) }
                if Self.syncFilesystem(fd) != 0 { throw ImageStoreError.posix("syncfs", path: temp, errno: errno) }
            }
            let id = try commit(temp)
            try index(chainID: chainID, id: id)
            return Snapshot(id: id, chainID: chainID, path: "\(directory)/\(id)/fs")
        } catch {
            try? RootfsWriter.removeTree(at: temp)
            throw error
        }
    }

    /// Unpacks `layers` in order into the existing directory `destination`.
    func unpackChain(layers: [Descriptor], diffIDs: [Digest], into destination: String,
                     format: RootfsWriterOptions.WhiteoutFormat) throws {
        let writer = try RootfsWriter(root: destination, options: RootfsWriterOptions(whiteoutFormat: format))
        for (layer, diffID) in zip(layers, diffIDs) {
            writer.beginLayer()
            let fd = try content.openForReading(layer.digest)
            defer { close(fd) }
            try unpacker.unpack(blobFD: fd, layer: layer, diffID: diffID, into: writer)
        }
        try writer.finish()
    }

    /// Renames `temp` to the lowest free numeric id above the existing ones.
    private func commit(_ temp: String) throws -> Int {
        var id = (try FileSystem.listDirectory(directory).compactMap { Int($0) }.max() ?? 0) + 1
        while true {
            let rc = kujira_renameat2(AT_FDCWD, temp, AT_FDCWD, "\(directory)/\(id)", UInt32(KUJIRA_RENAME_NOREPLACE))
            if rc == 0 { break }
            guard errno == EEXIST || errno == ENOTEMPTY else {
                throw ImageStoreError.posix("rename to a snapshot id", path: "\(directory)/\(id)", errno: errno)
            }
            id += 1
        }
        try FileSystem.syncDirectory(directory)
        return id
    }

    /// Points `chains/<hex>` at `../<id>`, replacing any older entry atomically.
    private func index(chainID: Digest, id: Int) throws {
        let link = "\(directory)/chains/\(chainID.encoded)"
        let temp = "\(directory)/chains/.\(chainID.encoded).\(FileSystem.uniqueSuffix())"
        if symlink("../\(id)", temp) != 0 { throw ImageStoreError.posix("symlink", path: temp, errno: errno) }
        if rename(temp, link) != 0 {
            let code = errno
            unlink(temp)
            throw ImageStoreError.posix("rename to", path: link, errno: code)
        }
        try FileSystem.syncDirectory("\(directory)/chains")
    }

    /// `syncfs(2)`, looked up at run time: glibc declares it only under `_GNU_SOURCE`, which
    /// Swift's Glibc module lacks. Falls back to `sync(2)` if it is somehow missing.
    static func syncFilesystem(_ fd: Int32) -> Int32 {
        typealias SyncFS = @convention(c) (Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else {
            sync()
            return 0
        }
        return unsafeBitCast(symbol, to: SyncFS.self)(fd)
    }

    // MARK: - Locks

    /// Runs `body` holding the exclusive flock of `chainID`'s lock file.
    func withChainLock<T>(_ chainID: Digest, _ body: () throws -> T) throws -> T {
        let fd = try FileSystem.open("\(directory)/locks/\(chainID.encoded)", O_RDWR | O_CREAT, mode: 0o600)
        defer { close(fd) }  // Closing the descriptor releases the lock.
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw ImageStoreError.posix("flock", path: "\(directory)/locks/\(chainID.encoded)", errno: errno) }
        }
        return try body()
    }

    /// Takes `chainID`'s lock without waiting; nil when another process holds it.
    func tryChainLock(_ hex: String) -> Int32? {
        guard let fd = try? FileSystem.open("\(directory)/locks/\(hex)", O_RDWR | O_CREAT, mode: 0o600) else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { close(fd); return nil }
        return fd
    }

    /// Removes `tmp/` entries whose chain nobody is unpacking (left by a killed process).
    func removeAbandonedUnpacks() {
        guard let names = try? FileSystem.listDirectory("\(directory)/tmp") else { return }
        for name in names {
            let hex = String(name.prefix { $0 != "-" })
            guard let fd = tryChainLock(hex) else { continue }
            try? RootfsWriter.removeTree(at: "\(directory)/tmp/\(name)")
            close(fd)
        }
    }
}

/// One committed snapshot: a directory holding one layer (overlay mode) or a whole chain
/// (copy mode).
public struct Snapshot: Sendable, Hashable {
    /// The short numeric id (`<root>/snapshots/<id>`).
    public var id: Int
    /// The chain ID of the layers up to and including this one.
    public var chainID: Digest
    /// The directory holding the files, `<root>/snapshots/<id>/fs`.
    public var path: String
}

/// The snapshots that make up an image's root filesystem.
public struct SnapshotChain: Sendable, Hashable {
    /// The chain ID of the whole chain (of the top layer).
    public var chainID: Digest
    /// The mode the snapshots were made in.
    public var mode: SnapshotStore.Mode
    /// The snapshots, bottom layer first (one in copy mode).
    public var snapshots: [Snapshot]
}

/// `<n>/info.json`: what a snapshot holds, so the index can be checked and pruned.
struct SnapshotInfo: Codable, Sendable {
    var chainID: Digest
    var parent: Digest?
    var diffID: Digest?
    var layer: Digest?
    var mode: SnapshotStore.Mode
}
